using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>A layer of PointNet whose weight is a (out, in) matrix: a shared MLP (1x1 conv over points) or a fully connected layer.</summary>
public interface IMatrixLayer
{
    /// <summary>The weight as a (out, in) view (a 1x1 conv's kernel dimension squeezed away).</summary>
    Tensor Matrix { get; }
    long InChannels { get; }
    long OutChannels { get; }
    /// <summary>The batch norm after the layer (null for the classifier's last layer).</summary>
    BatchNorm1d? Norm { get; }
    /// <summary>The layer's own bias (only the classifier's last layer has one: the others are followed by batch norm).</summary>
    Parameter? Bias { get; }
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
    public BatchNorm1d? Norm => norm;
    public Parameter? Bias => null;

    /// <summary>(B, in, N) to (B, out, N).</summary>
    public override Tensor forward(Tensor x) => nn.functional.relu(norm.forward(conv.call(x)));
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
    public BatchNorm1d? Norm => norm;
    public Parameter? Bias => null;

    public override Tensor forward(Tensor x) => nn.functional.relu(norm.forward(linear.call(x)));
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
    public BatchNorm1d? Norm => null;
    public Parameter? Bias => linear.bias;

    public override Tensor forward(Tensor x) => linear.call(x);
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

    public TNet(string name, long k, Func<int, long> width) : base(name)
    {
        this.k = k;
        mlp1 = new SharedMlp("mlp1", k, width(64));
        mlp2 = new SharedMlp("mlp2", width(64), width(128));
        mlp3 = new SharedMlp("mlp3", width(128), width(1024));
        fc1 = new FullyConnected("fc1", width(1024), width(512));
        fc2 = new FullyConnected("fc2", width(512), width(256));
        transform = nn.Linear(width(256), k * k);
        using (no_grad())
        {
            transform.weight!.zero_();
            transform.bias!.copy_(eye(k).flatten());
        }
        RegisterComponents();
    }

    /// <summary>(B, k, N) to the (B, k, k) transform.</summary>
    public override Tensor forward(Tensor x)
    {
        var features = mlp3.forward(mlp2.forward(mlp1.forward(x))).amax(2);
        return transform.call(fc2.forward(fc1.forward(features))).view(-1, k, k);
    }

    /// <summary>Multiply-accumulates of the transform's application per sample (x' = x A, Sec. 4.2).</summary>
    public long K => k;
}
