using TorchSharp;
using TorchSharp.Modules;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// A layer of PointNet or PointNet++ whose weight is a (out, in) matrix: a shared MLP (1x1 conv over points or over grouped
/// points) or a fully connected layer.
/// </summary>
public interface IMatrixLayer
{
    /// <summary>The weight as a (out, in) view (a 1x1 conv's kernel dimension squeezed away).</summary>
    Tensor Matrix { get; }
    long InChannels { get; }
    long OutChannels { get; }
    /// <summary>The batch norm after the layer (null for the classifier's last layer).</summary>
    BatchNorm? Norm { get; }
    /// <summary>The layer's own bias (only the classifier's last layer has one: the others are followed by batch norm).</summary>
    Parameter? Bias { get; }

    /// <summary>The layer as ONNX operators (eval mode), as its forward computes it.</summary>
    GraphValue WriteGraph(IGraphWriter graph, GraphValue x);
}

/// <summary>PointNet's shared MLP layer (Sec. 4.2): the same perceptron on every point, as a 1x1 conv, batch norm, ReLU.</summary>
public sealed class SharedMlp : nn.Module<Tensor, Tensor>, IMatrixLayer
{
    private readonly Conv1d conv;
    private readonly BatchNorm1d norm;

    public SharedMlp(string name, long inChannels, long outChannels) : base(name)
    {
        conv = nn.Conv1d(inChannels, outChannels, 1, bias: false);
        norm = nn.BatchNorm1d(outChannels);
        (InChannels, OutChannels) = (inChannels, outChannels);
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public Tensor Matrix => conv.weight!.squeeze(-1);
    public BatchNorm? Norm => norm;
    public Parameter? Bias => null;

    /// <summary>(B, in, N) to (B, out, N).</summary>
    public override Tensor forward(Tensor x) => nn.functional.relu(norm.forward(conv.call(x)));

    public GraphValue WriteGraph(IGraphWriter graph, GraphValue x) => graph.Relu(graph.Layer(norm, graph.Layer(conv, x)));
}

/// <summary>A fully connected layer of the classifier head or a T-Net: linear, batch norm, ReLU.</summary>
public sealed class FullyConnected : nn.Module<Tensor, Tensor>, IMatrixLayer
{
    private readonly Linear linear;
    private readonly BatchNorm1d norm;

    public FullyConnected(string name, long inFeatures, long outFeatures) : base(name)
    {
        linear = nn.Linear(inFeatures, outFeatures, hasBias: false);
        norm = nn.BatchNorm1d(outFeatures);
        (InChannels, OutChannels) = (inFeatures, outFeatures);
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public Tensor Matrix => linear.weight!;
    public BatchNorm? Norm => norm;
    public Parameter? Bias => null;

    public override Tensor forward(Tensor x) => nn.functional.relu(norm.forward(linear.call(x)));

    public GraphValue WriteGraph(IGraphWriter graph, GraphValue x) => graph.Relu(graph.Layer(norm, graph.Layer(linear, x)));
}

/// <summary>The classifier's last layer: a plain linear map to the class logits.</summary>
public sealed class ClassScores : nn.Module<Tensor, Tensor>, IMatrixLayer
{
    private readonly Linear linear;

    public ClassScores(string name, long inFeatures, long classes) : base(name)
    {
        linear = nn.Linear(inFeatures, classes);
        (InChannels, OutChannels) = (inFeatures, classes);
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public Tensor Matrix => linear.weight!;
    public BatchNorm? Norm => null;
    public Parameter? Bias => linear.bias;

    public override Tensor forward(Tensor x) => linear.call(x);

    public GraphValue WriteGraph(IGraphWriter graph, GraphValue x) => graph.Layer(linear, x);
}

/// <summary>
/// PointNet's T-Net (Sec. 4.2, "joint alignment network"): a mini-PointNet that regresses a k x k transform,
/// initialised to the identity so training starts from "no alignment".
/// </summary>
public sealed class TNet : nn.Module<Tensor, Tensor>
{
    private readonly SharedMlp mlp1, mlp2, mlp3;
    private readonly FullyConnected fc1, fc2;
    private readonly Linear transform;
    private readonly long k;

    /// <param name="width">A layer's width from its name inside the T-Net and its width in the paper.</param>
    public TNet(string name, long k, Func<string, int, long> width) : base(name)
    {
        this.k = k;
        mlp1 = new SharedMlp("mlp1", k, width("mlp1", 64));
        mlp2 = new SharedMlp("mlp2", mlp1.OutChannels, width("mlp2", 128));
        mlp3 = new SharedMlp("mlp3", mlp2.OutChannels, width("mlp3", 1024));
        fc1 = new FullyConnected("fc1", mlp3.OutChannels, width("fc1", 512));
        fc2 = new FullyConnected("fc2", fc1.OutChannels, width("fc2", 256));
        transform = nn.Linear(fc2.OutChannels, k * k);
        using (no_grad())
        {
            transform.weight!.zero_();
            transform.bias!.copy_(eye(k).flatten());
        }
        RegisterComponents();
    }

    /// <summary>The T-Net's hidden channel groups, its layers named under <paramref name="prefix"/>.</summary>
    public IEnumerable<ChannelGroup> ChannelGroups(string prefix) =>
        PointNetLayerChain.Groups(prefix, [("mlp1", mlp1), ("mlp2", mlp2), ("mlp3", mlp3), ("fc1", fc1), ("fc2", fc2), ("transform", transform)]);

    /// <summary>(B, k, N) to the (B, k, k) transform.</summary>
    public override Tensor forward(Tensor x)
    {
        var features = mlp3.forward(mlp2.forward(mlp1.forward(x))).amax(2);
        return transform.call(fc2.forward(fc1.forward(features))).view(-1, k, k);
    }

    /// <summary>The T-Net as ONNX operators: (B, k, N) to (B, k, k).</summary>
    public GraphValue WriteGraph(IGraphWriter graph, GraphValue x)
    {
        var features = graph.ReduceMax(mlp3.WriteGraph(graph, mlp2.WriteGraph(graph, mlp1.WriteGraph(graph, x))), [2]);
        return graph.Reshape(graph.Layer(transform, fc2.WriteGraph(graph, fc1.WriteGraph(graph, features))), -1, k, k);
    }

    /// <summary>Multiply-accumulates of the transform's application per sample (x' = x A, Sec. 4.2).</summary>
    public long K => k;
}

/// <summary>Channel groups of a chain of PointNet layers, each read only by the next (through max pooling where there is one).</summary>
internal static class PointNetLayerChain
{
    public static IEnumerable<ChannelGroup> Groups(string prefix, IReadOnlyList<(string Name, nn.Module Layer)> chain)
    {
        for (var i = 0; i + 1 < chain.Count; i++)
        {
            var (name, layer) = chain[i];
            if (layer is not IMatrixLayer { Norm: not null } producer)
                throw new InvalidOperationException($"PointNet layer '{prefix}{name}' is not a layer with a batch norm, so it cannot head a channel group.");
            yield return ChannelGroup.Chain(prefix + name, producer.OutChannels, prefix + WeightOwner(name, layer), $"{prefix}{name}.norm",
                [prefix + WeightOwner(chain[i + 1].Name, chain[i + 1].Layer)]);
        }
    }

    /// <summary>The module holding a layer's weight, by state-dict name.</summary>
    private static string WeightOwner(string name, nn.Module layer) => layer switch
    {
        SharedMlp => name + ".conv",
        FullyConnected or ClassScores => name + ".linear",
        _ => name,
    };
}
