using Google.Protobuf;
using Onnx;
using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.Onnx;

/// <summary>
/// Writes a model's <see cref="IGraphWriter"/> calls into ONNX protobuf messages (the onnx.proto types of OnnxSharp).
/// Constants become initializers of the top graph, which loop bodies may read (outer-scope values); every value gets a
/// name unique in the whole model.
/// </summary>
internal sealed class OnnxGraphWriter : IGraphWriter
{
    private readonly GraphProto _graph;
    private readonly OnnxGraphWriter? _root;
    private int _nextName;

    public OnnxGraphWriter(string name) : this(new GraphProto { Name = name }, null) { }

    private OnnxGraphWriter(GraphProto graph, OnnxGraphWriter? root)
    {
        _graph = graph;
        _root = root;
    }

    public GraphProto Graph => _graph;

    private OnnxGraphWriter Root => _root ?? this;

    private string NewName(string hint) => $"{hint}_{Root._nextName++}";

    public GraphValue Input(string name, ScalarType type, long?[] shape, string?[]? dimensionNames = null) => DeclareInput(name, type, shape, dimensionNames);

    /// <summary>A graph input; a null shape leaves the shape unknown (loop-carried values).</summary>
    private GraphValue DeclareInput(string name, ScalarType type, long?[]? shape, string?[]? dimensionNames = null)
    {
        if (_graph.Input.Any(i => i.Name == name)) throw new ArgumentException($"Graph input '{name}' is declared twice.");
        _graph.Input.Add(ValueInfo(name, type, shape, dimensionNames));
        return new GraphValue(name);
    }

    public GraphValue Constant(Tensor value, string? name = null)
    {
        var tensor = ToTensorProto(value, NewName(name ?? "const"));
        Root._graph.Initializer.Add(tensor);
        return new GraphValue(tensor.Name);
    }

    public GraphValue Constant(params long[] values)
    {
        using var t = tensor(values, ScalarType.Int64);
        return Constant(t);
    }

    public GraphValue Constant(float value)
    {
        using var t = tensor(value);
        return Constant(t);
    }

    public GraphValue Op(string op, GraphValue[] inputs, IReadOnlyDictionary<string, object>? attributes = null) => Op(op, inputs, 1, attributes)[0];

    public GraphValue[] Op(string op, GraphValue[] inputs, int outputs, IReadOnlyDictionary<string, object>? attributes = null)
    {
        var node = new NodeProto { OpType = op, Name = NewName(op) };
        node.Input.AddRange(inputs.Select(i => i.Name));
        var results = Enumerable.Range(0, outputs).Select(_ => new GraphValue(NewName(op.ToLowerInvariant()))).ToArray();
        node.Output.AddRange(results.Select(r => r.Name));
        foreach (var (key, value) in attributes ?? new Dictionary<string, object>()) node.Attribute.Add(Attribute(key, value));
        _graph.Node.Add(node);
        return results;
    }

    public GraphValue[] Loop(GraphValue tripCount, IReadOnlyList<(GraphValue Value, ScalarType Type)> carried, IReadOnlyList<ScalarType> stackedTypes,
        Func<IGraphWriter, GraphValue, GraphValue[], (GraphValue[] Next, GraphValue[] Stacked)> body)
    {
        var bodyGraph = new GraphProto { Name = NewName("loop_body") };
        var writer = new OnnxGraphWriter(bodyGraph, Root);
        var iteration = writer.Input(NewName("iteration"), ScalarType.Int64, []);
        var conditionIn = writer.Input(NewName("condition"), ScalarType.Bool, []);
        var carriedIn = carried.Select(c => writer.DeclareInput(NewName("carried"), c.Type, null)).ToArray();
        var (next, stacked) = body(writer, iteration, carriedIn);
        if (next.Length != carried.Count || stacked.Length != stackedTypes.Count)
            throw new InvalidOperationException($"Loop body returned {next.Length} carried and {stacked.Length} stacked values; declared {carried.Count} and {stackedTypes.Count}.");
        // Body outputs: the condition (always true here: the trip count ends the loop), the carried values, the stacked ones.
        // An output must be produced inside the body, so values passed through unchanged get an Identity.
        bodyGraph.Output.Add(ValueInfo(writer.Op("Identity", [conditionIn]).Name, ScalarType.Bool, []));
        for (var i = 0; i < next.Length; i++) bodyGraph.Output.Add(ValueInfo(writer.Op("Identity", [next[i]]).Name, carried[i].Type, null));
        for (var i = 0; i < stacked.Length; i++) bodyGraph.Output.Add(ValueInfo(writer.Op("Identity", [stacked[i]]).Name, stackedTypes[i], null));

        using var alwaysTrue = tensor(true);
        var condition = Constant(alwaysTrue);
        return Op("Loop", [tripCount, condition, .. carried.Select(c => c.Value)], carried.Count + stackedTypes.Count,
            new Dictionary<string, object> { ["body"] = bodyGraph });
    }

    public void Output(string name, GraphValue value)
    {
        // The output gets the model's own name through an Identity: values inside are named by the writer.
        var node = new NodeProto { OpType = "Identity", Name = NewName("output") };
        node.Input.Add(value.Name);
        node.Output.Add(name);
        _graph.Node.Add(node);
        _graph.Output.Add(ValueInfo(name, ScalarType.Float32, null));
    }

    public GraphValue Layer(nn.Module layer, GraphValue input)
    {
        switch (layer)
        {
            case Sequential sequential:
                return sequential.children().Aggregate(input, (x, child) => Layer(child, x));
            case Conv1d or Conv2d or ConvTranspose2d:
            {
                var conv = (Convolution)layer;
                if (conv.padding_mode != PaddingModes.Zeros) throw Unsupported(layer, $"padding mode {conv.padding_mode}");
                var pads = conv.padding ?? throw Unsupported(layer, "padding given by name ('same', 'valid')");
                var attributes = new Dictionary<string, object>
                {
                    ["kernel_shape"] = conv.kernel_size,
                    ["strides"] = conv.stride,
                    ["pads"] = pads.Concat(pads).ToArray(),   // ONNX: every axis' begin, then every axis' end
                    ["dilations"] = conv.dilation,
                    ["group"] = conv.groups,
                };
                // A transposed conv's weight is [in, out / groups, k...] in both torch and ONNX.
                if (conv.transposed) attributes["output_padding"] = conv.output_padding;
                return Op(conv.transposed ? "ConvTranspose" : "Conv", WithBias(conv.weight!, conv.bias), attributes);
            }
            case Linear linear:
            {
                // y = x W^T + b on the last axis, whatever the rank (Gemm takes only matrices).
                using var transposed = linear.weight!.detach().t().contiguous();
                var y = Op("MatMul", [input, Constant(transposed, "weight_t")]);
                return linear.bias is null ? y : Op("Add", [y, Constant(linear.bias.detach(), "bias")]);
            }
            case BatchNorm norm:
            {
                if (norm.running_mean is null || norm.running_var is null) throw Unsupported(layer, "no running statistics");
                var channels = norm.running_mean.shape[0];
                using var ones = torch.ones(channels);
                using var zeros = torch.zeros(channels);
                var scale = norm.weight is null ? Constant(ones) : Constant(norm.weight.detach(), "bn_scale");
                var shift = norm.bias is null ? Constant(zeros) : Constant(norm.bias.detach(), "bn_shift");
                return Op("BatchNormalization", [input, scale, shift, Constant(norm.running_mean, "bn_mean"), Constant(norm.running_var, "bn_var")],
                    new Dictionary<string, object> { ["epsilon"] = norm.eps });
            }
            case ReLU:
                return Op("Relu", [input]);
            case Dropout or Dropout2d:
                return input;   // eval mode: the identity
            default:
                throw Unsupported(layer, "not a standard layer; the model must write it with operators");
        }

        GraphValue[] WithBias(Tensor weight, Tensor? bias) =>
            bias is null ? [input, Constant(weight.detach(), "weight")] : [input, Constant(weight.detach(), "weight"), Constant(bias.detach(), "bias")];
    }

    private static NotSupportedException Unsupported(nn.Module layer, string why) =>
        new($"ONNX export: layer '{layer.GetName()}' ({layer.GetType().Name}) cannot be written: {why}.");

    internal static ValueInfoProto ValueInfo(string name, ScalarType type, long?[]? shape, string?[]? dimensionNames = null)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = GraphWriterExtensions.OnnxElementType(type) };
        if (shape is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            for (var i = 0; i < shape.Length; i++)
            {
                var dim = new TensorShapeProto.Types.Dimension();
                if (shape[i] is { } size) dim.DimValue = size;
                else dim.DimParam = dimensionNames?.ElementAtOrDefault(i) ?? $"d{i}";
                tensorType.Shape.Dim.Add(dim);
            }
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    /// <summary>A tensor as raw little-endian bytes; float64 is written as float32 (the graphs compute in float32).</summary>
    internal static TensorProto ToTensorProto(Tensor value, string name)
    {
        using var cpu = value.detach().cpu().contiguous();
        using var converted = cpu.dtype == ScalarType.Float64 ? cpu.to_type(ScalarType.Float32) : cpu.alias();
        var proto = new TensorProto { Name = name, DataType = GraphWriterExtensions.OnnxElementType(converted.dtype) };
        proto.Dims.AddRange(converted.shape);
        proto.RawData = converted.dtype switch
        {
            ScalarType.Float32 => ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(converted.data<float>().ToArray().AsSpan())),
            ScalarType.Int64 => ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(converted.data<long>().ToArray().AsSpan())),
            ScalarType.Int32 => ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(converted.data<int>().ToArray().AsSpan())),
            ScalarType.Bool => ByteString.CopyFrom(converted.data<bool>().ToArray().Select(b => (byte)(b ? 1 : 0)).ToArray()),
            _ => throw new NotSupportedException($"ONNX export: constant '{name}' has type {converted.dtype}."),
        };
        return proto;
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case double f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = (float)f; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ints: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ints); break;
            case double[] floats: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(floats.Select(f => (float)f)); break;
            case Tensor t: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = ToTensorProto(t, name); break;
            case GraphProto g: a.Type = AttributeProto.Types.AttributeType.Graph; a.G = g; break;
            default: throw new ArgumentException($"ONNX attribute '{name}': values of type {value.GetType().Name} are not written.");
        }
        return a;
    }
}
