using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Models;

/// <summary>
/// A model that can write its inference network (eval mode: batch norm with running statistics, no dropout) as a graph of
/// ONNX operators, so that a compressed model leaves the platform for ONNX Runtime or TensorRT (issue 18). TorchSharp has no
/// tracer, so each model spells its forward pass out once more, in <see cref="IGraphWriter"/>'s terms; the writer turns the
/// standard layers into operators itself. The contract names no file format: a model plugin needs no ONNX package.
/// </summary>
public interface IGraphExportable : IModel
{
    /// <summary>
    /// Writes the forward pass: graph inputs named as <paramref name="example"/>'s tensors that the forward reads (the
    /// exporter feeds them from a batch of <see cref="IModel.CollateInputs"/>), graph outputs named as
    /// <see cref="IModel.Forward"/>'s outputs. <paramref name="example"/> gives the shapes; a dimension that varies between
    /// batches (points, pillars) is declared by name.
    /// </summary>
    void WriteGraph(IGraphWriter graph, ModelBatch example);

    /// <summary>The batch sizes the written graph accepts: null for any, or a fixed size (a detector's pillar scatter fixes 1).</summary>
    int? GraphBatchSize => null;
}

/// <summary>A value in a graph being written (a node output, an input or a constant), by its unique name.</summary>
public readonly record struct GraphValue(string Name)
{
    public override string ToString() => Name;
}

/// <summary>
/// Builds a graph of ONNX operators (opset 17 semantics: https://onnx.ai/onnx/operators/). Values are named uniquely by the
/// writer. Attribute values may be long, double, string, long[], double[] or a tensor.
/// </summary>
public interface IGraphWriter
{
    /// <summary>
    /// A graph input. <paramref name="shape"/>: each dimension's size, or null where it varies; <paramref name="dimensionNames"/>
    /// names those (e.g. "batch", "pillars").
    /// </summary>
    GraphValue Input(string name, ScalarType type, long?[] shape, string?[]? dimensionNames = null);

    /// <summary>A constant holding a copy of <paramref name="value"/> (on any device; float32, float64 written as float32, int64).</summary>
    GraphValue Constant(Tensor value, string? name = null);

    /// <summary>An int64 vector constant (shapes, axes, indices).</summary>
    GraphValue Constant(params long[] values);

    /// <summary>A float32 scalar constant.</summary>
    GraphValue Constant(float value);

    /// <summary>
    /// A standard layer in eval mode: Sequential (its children in order), Conv1d/2d, ConvTranspose2d, Linear, BatchNorm1d/2d,
    /// ReLU, Dropout (nothing). Weights are read now, masks and removed channels included. Anything else is refused by type.
    /// </summary>
    GraphValue Layer(nn.Module layer, GraphValue input);

    /// <summary>One operator with one output.</summary>
    GraphValue Op(string op, GraphValue[] inputs, IReadOnlyDictionary<string, object>? attributes = null);

    /// <summary>One operator with <paramref name="outputs"/> outputs.</summary>
    GraphValue[] Op(string op, GraphValue[] inputs, int outputs, IReadOnlyDictionary<string, object>? attributes = null);

    /// <summary>
    /// ONNX Loop over <paramref name="tripCount"/> (an int64 scalar value) iterations. <paramref name="carried"/>: the
    /// loop-carried values' initial values and element types; <paramref name="stackedTypes"/>: the element types of the values
    /// stacked over iterations (scan outputs, a new leading axis). <paramref name="body"/> gets a writer for the loop body,
    /// the iteration number and the carried values, and returns the next carried values and the values to stack. Values
    /// of the enclosing graph may be used inside the body. Returns the final carried values, then the stacks.
    /// </summary>
    GraphValue[] Loop(GraphValue tripCount, IReadOnlyList<(GraphValue Value, ScalarType Type)> carried, IReadOnlyList<ScalarType> stackedTypes,
        Func<IGraphWriter, GraphValue, GraphValue[], (GraphValue[] Next, GraphValue[] Stacked)> body);

    /// <summary>Declares a graph output (float32) named <paramref name="name"/>.</summary>
    void Output(string name, GraphValue value);
}

/// <summary>Shorthands for the operators models use most (ONNX names and semantics).</summary>
public static class GraphWriterExtensions
{
    public static GraphValue Op(this IGraphWriter g, string op, params GraphValue[] inputs) => g.Op(op, inputs);

    public static GraphValue Relu(this IGraphWriter g, GraphValue x) => g.Op("Relu", x);

    /// <summary>Max over <paramref name="axes"/> (opset 17: axes are an attribute).</summary>
    public static GraphValue ReduceMax(this IGraphWriter g, GraphValue x, long[] axes, bool keepDims = false) =>
        g.Op("ReduceMax", [x], new Dictionary<string, object> { ["axes"] = axes, ["keepdims"] = keepDims ? 1L : 0L });

    /// <summary>Sum over <paramref name="axes"/> (opset 13+: axes are an input).</summary>
    public static GraphValue ReduceSum(this IGraphWriter g, GraphValue x, long[] axes, bool keepDims = false) =>
        g.Op("ReduceSum", [x, g.Constant(axes)], new Dictionary<string, object> { ["keepdims"] = keepDims ? 1L : 0L });

    public static GraphValue Transpose(this IGraphWriter g, GraphValue x, params long[] permutation) =>
        g.Op("Transpose", [x], new Dictionary<string, object> { ["perm"] = permutation });

    public static GraphValue Reshape(this IGraphWriter g, GraphValue x, params long[] shape) => g.Op("Reshape", x, g.Constant(shape));

    public static GraphValue Unsqueeze(this IGraphWriter g, GraphValue x, params long[] axes) => g.Op("Unsqueeze", x, g.Constant(axes));

    public static GraphValue Squeeze(this IGraphWriter g, GraphValue x, params long[] axes) => g.Op("Squeeze", x, g.Constant(axes));

    /// <summary>x[..., start:end] along <paramref name="axis"/> (end long.MaxValue: to the end).</summary>
    public static GraphValue Slice(this IGraphWriter g, GraphValue x, long axis, long start, long end) =>
        g.Op("Slice", x, g.Constant(start), g.Constant(end), g.Constant(axis));

    public static GraphValue Concat(this IGraphWriter g, long axis, params GraphValue[] values) =>
        g.Op("Concat", values, new Dictionary<string, object> { ["axis"] = axis });

    public static GraphValue Cast(this IGraphWriter g, GraphValue x, ScalarType to) =>
        g.Op("Cast", [x], new Dictionary<string, object> { ["to"] = (long)OnnxElementType(to) });

    /// <summary>ONNX TensorProto.DataType of a torch scalar type (float32 1, int64 7, bool 9, float64 11, int32 6).</summary>
    public static int OnnxElementType(ScalarType type) => type switch
    {
        ScalarType.Float32 => 1,
        ScalarType.Int32 => 6,
        ScalarType.Int64 => 7,
        ScalarType.Bool => 9,
        ScalarType.Float64 => 11,
        _ => throw new NotSupportedException($"No ONNX element type for {type} in this exporter."),
    };
}
