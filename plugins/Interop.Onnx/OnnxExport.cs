using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.Onnx;

/// <summary>Writes a model as an ONNX file and checks the file in ONNX Runtime against the model's own outputs.</summary>
public static class OnnxExport
{
    /// <summary>The operator set the graphs are written for, and the IR version that goes with it.</summary>
    public const int Opset = 17;
    private const long IrVersion = 8;

    /// <summary>The ONNX model of <paramref name="model"/>'s inference network, shapes taken from <paramref name="example"/>.</summary>
    public static ModelProto Build(IGraphExportable model, ModelBatch example)
    {
        if (model.Module.parameters().FirstOrDefault()?.dtype is { } type && type != ScalarType.Float32)
            throw new NotSupportedException($"ONNX export writes float32 graphs; the model's parameters are {type}.");
        var writer = new OnnxGraphWriter(model.Spec.Use);
        using (no_grad())
        {
            model.WriteGraph(writer, example);
        }
        if (writer.Graph.Output.Count == 0) throw new InvalidOperationException($"Model '{model.Spec.Use}' wrote a graph without outputs.");
        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "platform",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            Graph = writer.Graph,
            DocString = $"{model.Spec.Use}, exported by the platform's export-onnx step",
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return proto;
    }

    /// <summary>
    /// Writes <paramref name="proto"/> to <paramref name="path"/> atomically (a reader never sees half a file); a
    /// <paramref name="check"/> reads the written file first and, by throwing, keeps it from replacing anything.
    /// </summary>
    public static void Write(ModelProto proto, string path, Action<string>? check = null) => AtomicFile.Write(path, stream => proto.WriteTo(stream), check);

    /// <summary>Inputs of the file's graph, as ONNX Runtime values made from the batch's tensors of the same names.</summary>
    internal static Dictionary<string, OrtValue> Inputs(InferenceSession session, ModelBatch batch)
    {
        var inputs = new Dictionary<string, OrtValue>();
        foreach (var name in session.InputNames)
        {
            if (!batch.Tensors.TryGetValue(name, out var t))
                throw new InvalidOperationException($"The ONNX graph reads input '{name}', which the model's batches do not have ({string.Join(", ", batch.Tensors.Keys)}).");
            using var cpu = t.detach().cpu().contiguous();
            inputs[name] = cpu.dtype switch
            {
                ScalarType.Float32 => OrtValue.CreateTensorValueFromMemory(cpu.data<float>().ToArray(), cpu.shape),
                ScalarType.Int64 => OrtValue.CreateTensorValueFromMemory(cpu.data<long>().ToArray(), cpu.shape),
                ScalarType.Int32 => OrtValue.CreateTensorValueFromMemory(cpu.data<int>().ToArray(), cpu.shape),
                _ => throw new NotSupportedException($"Input '{name}' is {cpu.dtype}; the exporter feeds float32, int32 and int64."),
            };
        }
        return inputs;
    }

    public static SessionOptions SessionOptions(int threads) => new()
    {
        IntraOpNumThreads = threads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    /// <summary>Runs the session on one batch: each output by name, as float32 values with their shape.</summary>
    internal static Dictionary<string, (float[] Values, long[] Shape)> Run(InferenceSession session, ModelBatch batch)
    {
        var inputs = Inputs(session, batch);
        try
        {
            using var options = new RunOptions();
            using var results = session.Run(options, inputs, session.OutputNames);
            var outputs = new Dictionary<string, (float[], long[])>();
            for (var i = 0; i < results.Count; i++)
                outputs[session.OutputNames[i]] = (results[i].GetTensorDataAsSpan<float>().ToArray(), results[i].GetTensorTypeAndShape().Shape);
            return outputs;
        }
        finally
        {
            foreach (var value in inputs.Values) value.Dispose();
        }
    }

    /// <summary>
    /// The largest absolute difference between ONNX Runtime's and the model's outputs over <paramref name="batches"/>, and the
    /// same divided by the output's scale (its largest absolute value), the worst output's; shapes must agree.
    /// </summary>
    public static Agreement Compare(string path, IModel model, IReadOnlyList<ModelBatch> batches)
    {
        using var options = SessionOptions(1);
        using var session = new InferenceSession(path, options);
        model.Module.eval();
        using var _ = no_grad();
        var worst = new Agreement(0, 0, "");
        foreach (var batch in batches)
        {
            var expected = model.Forward(batch);
            var actual = Run(session, batch);
            foreach (var (name, (values, shape)) in actual)
            {
                if (!expected.Tensors.TryGetValue(name, out var reference))
                    throw new InvalidOperationException($"The ONNX graph has output '{name}', which the model's forward does not ({string.Join(", ", expected.Tensors.Keys)}).");
                if (!reference.shape.SequenceEqual(shape))
                    throw new InvalidOperationException($"ONNX output '{name}' has shape [{string.Join(", ", shape)}], the model's [{string.Join(", ", reference.shape)}].");
                var torchValues = reference.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
                double maxDiff = 0, scale = 0;
                for (var i = 0; i < values.Length; i++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs(values[i] - torchValues[i]));
                    scale = Math.Max(scale, Math.Abs(torchValues[i]));
                }
                var relative = maxDiff / Math.Max(scale, 1e-12);
                if (relative >= worst.MaxRelativeDifference)
                    worst = new Agreement(Math.Max(maxDiff, worst.MaxAbsoluteDifference), relative, name);
                else if (maxDiff > worst.MaxAbsoluteDifference)
                    worst = worst with { MaxAbsoluteDifference = maxDiff };
            }
            foreach (var t in expected.Tensors.Values) t.Dispose();
        }
        return worst;
    }

    /// <summary>Median seconds per batch of the model's forward pass and of the ONNX Runtime session, timed on each batch, each going first on every other one.</summary>
    public static (double Torch, double OnnxRuntime) Time(string path, IModel model, IReadOnlyList<ModelBatch> batches, int threads, int repeats, int warmup)
    {
        var torchThreads = get_num_threads();
        using var options = SessionOptions(threads);
        using var session = new InferenceSession(path, options);
        var device = model.Module.parameters().FirstOrDefault()?.device ?? CPU;
        var inputs = batches.Select(b => Inputs(session, b)).ToList();
        var torchTimes = new List<double>();
        var ortTimes = new List<double>();
        try
        {
            set_num_threads(threads);
            model.Module.eval();
            using var _ = no_grad();
            using var runOptions = new RunOptions();
            for (var pass = 0; pass < warmup + repeats; pass++)
            {
                for (var i = 0; i < batches.Count; i++)
                {
                    var torchSeconds = 0.0;
                    var ortSeconds = 0.0;
                    // The two go first in turn (Kit/AlternatingOrder): the one timed second would otherwise pay for the first's cache traffic.
                    foreach (var runtime in AlternatingOrder.Of(pass * batches.Count + i, 2))
                    {
                        var watch = Stopwatch.StartNew();
                        if (runtime == 0)
                        {
                            using (NewDisposeScope())
                            {
                                model.Forward(batches[i]);
                                DeviceSync.Wait(device);
                            }
                            torchSeconds = watch.Elapsed.TotalSeconds;
                        }
                        else
                        {
                            using (session.Run(runOptions, inputs[i], session.OutputNames)) { }
                            ortSeconds = watch.Elapsed.TotalSeconds;
                        }
                    }
                    if (pass < warmup) continue;
                    torchTimes.Add(torchSeconds);
                    ortTimes.Add(ortSeconds);
                }
            }
        }
        finally
        {
            set_num_threads(torchThreads);
            foreach (var dictionary in inputs)
                foreach (var value in dictionary.Values) value.Dispose();
        }
        return (Quantiles.Median(torchTimes), Quantiles.Median(ortTimes));
    }
}

/// <summary>How closely an ONNX file's outputs follow the model's: the worst output by relative difference, named.</summary>
public sealed record Agreement(double MaxAbsoluteDifference, double MaxRelativeDifference, string WorstOutput);
