using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// Where each conv/linear weight is applied, filled in while the network is built: for the FLOPs each
/// weight costs (ModelBase.FlopsPerWeight) and the elements each norm touches (other FLOPs).
/// </summary>
internal sealed class LayerUse
{
    public Dictionary<nn.Module, double> FlopsPerWeight { get; } = new(ReferenceEqualityComparer.Instance);
    public double NormElements { get; set; }

    public T Conv<T>(T conv, double positions) where T : nn.Module { FlopsPerWeight[conv] = positions; return conv; }

    /// <summary>Layers run once per (pillar, point) slot: their uses per non-empty pillar, for costs at a measured input.</summary>
    public Dictionary<nn.Module, double> UsesPerPillar { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>The part of <see cref="NormElements"/> that is per pillar slot.</summary>
    public double NormElementsPerPillar { get; set; }
}

/// <summary>
/// PointPillars' pillar feature net (sec. 2.1): each point is decorated with its offset to the pillar's
/// mean (x_c, y_c, z_c) and to the pillar's centre (x_p, y_p), giving D = 9; a linear + BatchNorm + ReLU
/// lifts it to C channels and a max over the pillar's points gives one feature per pillar, which is then
/// scattered back to its grid cell to make the BEV pseudo-image [B, C, ny, nx].
/// </summary>
internal sealed class PillarFeatureNet : nn.Module
{
    private readonly Linear linear;
    private readonly BatchNorm1d norm;
    private readonly BevGrid _grid;

    public PillarFeatureNet(PillarEncoderOptions options, BevGrid grid, double momentum, LayerUse use) : base("pfn")
    {
        _grid = grid;
        // Counted at the configured cap: one use per (pillar, point) slot, MaxPillars x MaxPointsPerPillar.
        double slots = (double)options.MaxPillars * options.MaxPointsPerPillar;
        var channels = options.Channels;
        linear = use.Conv(nn.Linear(9, channels, hasBias: false), slots);
        norm = nn.BatchNorm1d(channels, eps: 1e-3, momentum: momentum);
        use.NormElements += slots * channels;
        // At a real input only the non-empty pillars' slots run (CenterPointModel.CostsAt).
        use.UsesPerPillar[linear] = options.MaxPointsPerPillar;
        use.NormElementsPerPillar += (double)options.MaxPointsPerPillar * channels;
        RegisterComponents();
    }

    public long Channels => linear.out_features;

    public Tensor forward(Pillars pillars, int batchSize)
    {
        var (points, counts, coords) = (pillars.Points, pillars.Counts, pillars.Coords);
        // Collation yields float32 points; a model moved to another dtype (float64 for exact checks) computes in its own.
        if (points.dtype != linear.weight!.dtype) points = points.to_type(linear.weight.dtype);
        long p = points.shape[0], m = points.shape[1];
        var g = _grid;
        var xyz = points[.., .., ..3];
        var valid = arange(m, device: points.device).unsqueeze(0) < counts.unsqueeze(1);   // [P, M]
        var mean = xyz.sum(1) / counts.clamp_min(1).unsqueeze(1).to_type(points.dtype);     // padded slots are zero
        var clusterOffset = xyz - mean.unsqueeze(1);
        var centre = stack([coords[.., 2].to_type(points.dtype) * g.PillarSize + (g.PillarSize / 2 + g.PointCloudRange[0]),
                            coords[.., 1].to_type(points.dtype) * g.PillarSize + (g.PillarSize / 2 + g.PointCloudRange[1])], 1);
        var centreOffset = xyz[.., .., ..2] - centre.unsqueeze(1);
        var decorated = cat([points, clusterOffset, centreOffset], 2) * valid.unsqueeze(2).to_type(points.dtype);

        var x = linear.call(decorated);                                                      // [P, M, C]; call runs hooks (weight reconstruction)
        x = norm.forward(x.reshape(p * m, -1)).reshape(p, m, -1).relu();
        var pillarFeatures = x.amax([1]);                                                    // [P, C]

        var flat = coords[.., 0] * (g.GridY * g.GridX) + coords[.., 1] * g.GridX + coords[.., 2];
        var canvas = zeros(batchSize * g.GridY * g.GridX, pillarFeatures.shape[1], device: points.device, dtype: pillarFeatures.dtype)
            .index_copy(0, flat, pillarFeatures);
        return canvas.reshape(batchSize, g.GridY, g.GridX, -1).permute(0, 3, 1, 2).contiguous();
    }

    /// <summary>
    /// <see cref="forward"/> as ONNX operators for one frame: points [P, M, F], counts [P], coords [P, 3] to the pseudo-image
    /// [1, C, ny, nx]; the scatter is a ScatterND into a zero canvas.
    /// </summary>
    public GraphValue WriteGraph(IGraphWriter graph, GraphValue points, GraphValue counts, GraphValue coords, long maxPoints)
    {
        var gr = _grid;
        var xyz = graph.Slice(points, 2, 0, 3);
        var valid = graph.Op("Less", graph.Unsqueeze(graph.Constant(arange(maxPoints)), 0), graph.Unsqueeze(counts, 1));        // [P, M]
        var divisor = graph.Unsqueeze(graph.Cast(graph.Op("Max", counts, graph.Constant(tensor(1L))), ScalarType.Float32), 1);
        var mean = graph.Op("Div", graph.ReduceSum(xyz, [1]), divisor);
        var clusterOffset = graph.Op("Sub", xyz, graph.Unsqueeze(mean, 1));
        GraphValue CellCentre(long column, double origin) => graph.Unsqueeze(graph.Op("Add",
            graph.Op("Mul", graph.Cast(graph.Op("Gather", [coords, graph.Constant(tensor(column))], new Dictionary<string, object> { ["axis"] = 1L }), ScalarType.Float32),
                graph.Constant((float)gr.PillarSize)),
            graph.Constant((float)(gr.PillarSize / 2 + origin))), 1);
        var centre = graph.Concat(1, CellCentre(2, gr.PointCloudRange[0]), CellCentre(1, gr.PointCloudRange[1]));
        var centreOffset = graph.Op("Sub", graph.Slice(xyz, 2, 0, 2), graph.Unsqueeze(centre, 1));
        var decorated = graph.Op("Mul", graph.Concat(2, points, clusterOffset, centreOffset), graph.Unsqueeze(graph.Cast(valid, ScalarType.Float32), 2));

        var channels = Channels;
        var x = graph.Layer(linear, decorated);
        x = graph.Relu(graph.Reshape(graph.Layer(norm, graph.Reshape(x, -1, channels)), -1, maxPoints, channels));
        var pillarFeatures = graph.ReduceMax(x, [1]);                                                                       // [P, C]

        GraphValue Coord(long column) => graph.Op("Gather", [coords, graph.Constant(tensor(column))], new Dictionary<string, object> { ["axis"] = 1L });
        var cell = graph.Op("Add", graph.Op("Mul", Coord(1), graph.Constant(tensor((long)gr.GridX))), Coord(2));
        var canvas = graph.Op("ConstantOfShape", graph.Constant((long)gr.GridY * gr.GridX, channels));
        canvas = graph.Op("ScatterND", canvas, graph.Unsqueeze(cell, 1), pillarFeatures);
        return graph.Transpose(graph.Reshape(canvas, 1, gr.GridY, gr.GridX, channels), 0, 3, 1, 2);
    }
}

/// <summary>Options of the 2D backbone's stages (<see cref="BevBackbone"/>; OpenPCDet's BACKBONE_2D LAYER_NUMS, LAYER_STRIDES, NUM_FILTERS).</summary>
public sealed class BackboneOptions
{
    [Description("3x3 convs after the strided conv in each stage. kitti: [3,5,5].")]
    public int[] LayerNums { get; set; } = [1, 2, 2];

    [Description("Stride of each stage's first conv.")]
    public int[] LayerStrides { get; set; } = [2, 2, 2];

    [Description("Channels of each stage. kitti: [64,128,256].")]
    public int[] Filters { get; set; } = [32, 64, 96];

    [Description("Channels of every conv, one list per stage with the strided conv first: what channel pruning writes, so a pruned checkpoint rebuilds its own widths. Empty: each stage's Filters.")]
    public int[][] ConvChannels { get; set; } = [];

    /// <summary>The output width of conv <paramref name="conv"/> of stage <paramref name="stage"/>.</summary>
    internal int Channels(int stage, int conv) => ConvChannels.Length > 0 ? ConvChannels[stage][conv] : Filters[stage];

    /// <summary>Sets one conv's width; the first such call writes every conv's width out (they were the stages' Filters).</summary>
    internal void SetConvChannels(int stage, int conv, int width)
    {
        if (stage >= LayerNums.Length || conv > LayerNums[stage])
            throw new ArgumentException($"CenterPoint has no channel group '{LayerNames.BlockConv(stage, conv)}': the backbone's LayerNums are [{string.Join(", ", LayerNums)}].");
        if (ConvChannels.Length == 0) ConvChannels = LayerNums.Select((n, i) => Enumerable.Repeat(Filters[i], n + 1).ToArray()).ToArray();
        if (stage >= ConvChannels.Length || conv >= ConvChannels[stage].Length)
            throw new ArgumentException($"CenterPoint option Backbone:ConvChannels has no width for '{LayerNames.BlockConv(stage, conv)}'.");
        ConvChannels[stage][conv] = width;
    }
}

/// <summary>Options of the neck (<see cref="BevBackbone"/>'s deblocks; OpenPCDet's UPSAMPLE_STRIDES, NUM_UPSAMPLE_FILTERS).</summary>
public sealed class NeckOptions
{
    [Description("Upsampling factor of each stage (all stages must land on the same grid).")]
    public int[] UpsampleStrides { get; set; } = [1, 2, 4];

    [Description("Channels of each upsampled stage (concatenated); channel pruning writes these too. kitti: [128,128,128].")]
    public int[] UpsampleFilters { get; set; } = [32, 32, 32];
}

/// <summary>
/// OpenPCDet's BaseBEVBackbone: stages of a strided 3x3 conv then LayerNums[i] 3x3 convs (each with
/// BatchNorm + ReLU); the neck upsamples every stage with a transposed conv to one grid and concatenates.
/// </summary>
internal sealed class BevBackbone : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks = new();
    private readonly ModuleList<nn.Module<Tensor, Tensor>> deblocks = new();

    public int OutputChannels { get; }

    /// <summary>Backbone and neck channel groups: each conv's outputs, read by the next conv, and a stage's last conv also by its deblock; each deblock's outputs, read by the head's shared conv at the deblock's place in the concatenation.</summary>
    public IEnumerable<ChannelGroup> ChannelGroups(BackboneOptions b)
    {
        var offset = 0L;
        for (var i = 0; i < b.LayerNums.Length; i++)
        {
            for (var k = 0; k <= b.LayerNums[i]; k++)
            {
                var conv = LayerNames.BlockConv(i, k);
                var members = new List<ChannelMember> { new(conv + ".weight", 0, ChannelRole.Producer) };
                members.AddRange(ChannelGroup.NormTensors.Select(t => new ChannelMember($"{LayerNames.NormAfter(conv)}.{t}", 0, ChannelRole.Norm)));
                if (k < b.LayerNums[i]) members.Add(new(LayerNames.BlockConv(i, k + 1) + ".weight", 1, ChannelRole.Consumer));
                else
                {
                    if (i + 1 < b.LayerNums.Length) members.Add(new(LayerNames.BlockConv(i + 1, 0) + ".weight", 1, ChannelRole.Consumer));
                    members.Add(new(LayerNames.Deblock(i) + ".weight", 0, ChannelRole.Consumer));   // transposed conv: [in, out, kh, kw]
                }
                yield return new ChannelGroup(conv, Widths[conv], members);
            }
            var deblock = LayerNames.Deblock(i);
            var width = Widths[deblock];
            yield return new ChannelGroup(deblock, width,
            [
                new(deblock + ".weight", 1, ChannelRole.Producer),
                .. ChannelGroup.NormTensors.Select(t => new ChannelMember($"{LayerNames.NormAfter(deblock)}.{t}", 0, ChannelRole.Norm)),
                new(LayerNames.SharedConv + ".weight", 1, ChannelRole.Consumer, offset),
            ]);
            offset += width;
        }
    }

    /// <summary>The built width of every conv and deblock, by layer name.</summary>
    private Dictionary<string, long> Widths => named_modules().Where(m => m.module is Convolution)
        .ToDictionary(m => "backbone." + m.name, m => ((Convolution)m.module).out_channels);

    public BevBackbone(BackboneOptions b, NeckOptions neck, long inChannels, BevGrid grid, double momentum, LayerUse use) : base("backbone")
    {
        long h = grid.GridY, w = grid.GridX;
        for (var i = 0; i < b.LayerNums.Length; i++)
        {
            var stride = b.LayerStrides[i];
            h /= stride; w /= stride;
            var layers = new List<nn.Module<Tensor, Tensor>>();
            // Conv 0 is the strided one; every conv's width is the stage's unless channel pruning set its own.
            for (var k = 0; k <= b.LayerNums[i]; k++)
            {
                var f = b.Channels(i, k);
                layers.Add(use.Conv(nn.Conv2d(inChannels, f, 3, stride: k == 0 ? stride : 1, padding: 1, bias: false), h * w));
                layers.Add(nn.BatchNorm2d(f, eps: 1e-3, momentum: momentum));
                layers.Add(nn.ReLU());
                use.NormElements += (double)f * h * w;
                inChannels = f;
            }
            blocks.Add(nn.Sequential(layers));

            // A transposed conv with kernel = stride uses each weight once per input position.
            var up = neck.UpsampleStrides[i];
            var u = neck.UpsampleFilters[i];
            deblocks.Add(nn.Sequential(
                use.Conv(nn.ConvTranspose2d(inChannels, u, up, stride: up, bias: false), h * w),
                nn.BatchNorm2d(u, eps: 1e-3, momentum: momentum), nn.ReLU()));
            use.NormElements += (double)u * h * w * up * up;
            OutputChannels += u;
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor pseudoImage)
    {
        var x = pseudoImage;
        var ups = new List<Tensor>();
        for (var i = 0; i < blocks.Count; i++)
        {
            x = Block(i, x);
            ups.Add(Deblock(i, x));
        }
        return Neck(ups);
    }

    public int Stages => blocks.Count;

    /// <summary>Stage <paramref name="i"/>'s convs on the previous stage's output (the pseudo-image for 0).</summary>
    public Tensor Block(int i, Tensor x) => blocks[i].forward(x);

    /// <summary>Stage <paramref name="i"/>'s upsampling to the neck's resolution.</summary>
    public Tensor Deblock(int i, Tensor x) => deblocks[i].forward(x);

    /// <summary>The neck's output: the upsampled stage outputs, concatenated over channels.</summary>
    public static Tensor Neck(IReadOnlyList<Tensor> ups) => ups.Count == 1 ? ups[0] : cat([.. ups], 1);

    /// <summary><see cref="forward"/> as ONNX operators (every block and deblock is a standard layer sequence).</summary>
    public GraphValue WriteGraph(IGraphWriter graph, GraphValue pseudoImage)
    {
        var x = pseudoImage;
        var ups = new List<GraphValue>();
        for (var i = 0; i < blocks.Count; i++)
        {
            x = graph.Layer(blocks[i], x);
            ups.Add(graph.Layer(deblocks[i], x));
        }
        return ups.Count == 1 ? ups[0] : graph.Concat(1, [.. ups]);
    }
}

/// <summary>Options of the head (<see cref="CenterHead"/>; OpenPCDet's DENSE_HEAD, its loss weights included).</summary>
public sealed class HeadOptions
{
    [Description("Channels of the head's shared 3x3 conv. kitti: 64.")]
    [Range(1, 4096)]
    public int SharedConvChannels { get; set; } = 32;

    // kitti-small has output convs straight after the shared conv: the five hidden 3x3 convs would be a third of the MACs.
    [Description("3x3 conv+BN+ReLU layers in each branch before its output conv. kitti: 1.")]
    [Range(0, 8)]
    public int HeadConvLayers { get; set; }

    [Description("Channels of each branch's hidden convs by branch (hm, center, center_z, dim, rot): what channel pruning writes, so a pruned checkpoint rebuilds its own widths. A branch not listed: SharedConvChannels.")]
    public Dictionary<string, int[]> BranchChannels { get; set; } = [];

    [Description("Weight of the heatmap focal loss.")]
    [Range(0.0, 1000.0)]
    public double HeatmapWeight { get; set; } = 1;

    [Description("Weight of the masked L1 regression loss (offset, z, log dims, sin/cos).")]
    [Range(0.0, 1000.0)]
    public double RegressionWeight { get; set; } = 2;

    /// <summary>The output width of hidden conv <paramref name="conv"/> of branch <paramref name="branch"/>.</summary>
    internal int HiddenChannels(string branch, int conv) => BranchChannels.TryGetValue(branch, out var widths) ? widths[conv] : SharedConvChannels;

    /// <summary>Sets the shared conv's width; the branches' hidden widths, which default to it, are written out first and stay.</summary>
    internal void SetSharedConvChannels(int width)
    {
        WriteOutBranchChannels();
        SharedConvChannels = width;
    }

    internal void SetBranchChannels(string branch, int conv, int width)
    {
        if (!CenterHead.BranchNames.Contains(branch) || conv >= HeadConvLayers)
            throw new ArgumentException($"CenterPoint has no channel group '{LayerNames.HeadConv(branch, conv)}': the head's branches are {string.Join(", ", CenterHead.BranchNames)}, each with {HeadConvLayers} hidden convs.");
        WriteOutBranchChannels();
        BranchChannels[branch][conv] = width;
    }

    private void WriteOutBranchChannels()
    {
        if (HeadConvLayers == 0) return;
        foreach (var branch in CenterHead.BranchNames) BranchChannels.TryAdd(branch, Enumerable.Repeat(SharedConvChannels, HeadConvLayers).ToArray());
    }
}

/// <summary>
/// CenterPoint's head (Yin et al., CVPR 2021, sec. 4): a shared 3x3 conv, then one small conv branch per
/// output: class heatmap (logits), centre offset (2), height z (1), log dimensions (3), heading (sin, cos).
/// </summary>
internal sealed class CenterHead : nn.Module
{
    public static readonly (string Name, int Channels)[] RegressionHeads = [("center", 2), ("center_z", 1), ("dim", 3), ("rot", 2)];

    /// <summary>The class heatmap's branch, then the regressions'.</summary>
    public static readonly IReadOnlyList<string> BranchNames = ["hm", .. RegressionHeads.Select(r => r.Name)];

    private readonly nn.Module<Tensor, Tensor> shared;
    private readonly HeadBranches heads = new();

    public CenterHead(HeadOptions options, BevGrid grid, int inChannels, int classes, double momentum, LayerUse use) : base("head")
    {
        double positions = (double)grid.FeatureX * grid.FeatureY;
        var ch = options.SharedConvChannels;
        shared = nn.Sequential(
            use.Conv(nn.Conv2d(inChannels, ch, 3, padding: 1, bias: false), positions),
            nn.BatchNorm2d(ch, eps: 1e-3, momentum: momentum), nn.ReLU());
        use.NormElements += ch * positions;
        foreach (var (name, outChannels) in RegressionHeads.Prepend(("hm", classes)))
        {
            var layers = new List<nn.Module<Tensor, Tensor>>();
            long previous = ch;
            for (var k = 0; k < options.HeadConvLayers; k++)
            {
                var width = options.HiddenChannels(name, k);
                layers.Add(use.Conv(nn.Conv2d(previous, width, 3, padding: 1, bias: false), positions));
                layers.Add(nn.BatchNorm2d(width, eps: 1e-3, momentum: momentum));
                layers.Add(nn.ReLU());
                use.NormElements += width * positions;
                previous = width;
            }
            var output = use.Conv(nn.Conv2d(previous, outChannels, 3, padding: 1, bias: true), positions);
            if (name == "hm")
            {
                // Focal-loss prior (Lin et al. 2017, sec. 4.1): start every cell at p = 0.1, bias = -log((1 - p) / p).
                using var _ = no_grad();
                output.bias!.fill_(-2.19);
            }
            layers.Add(output);
            heads.Add(name, nn.Sequential(layers));
        }
        RegisterComponents();
    }

    /// <summary>The shared conv's outputs, read by the first conv of every branch; each branch conv's, read by the next.</summary>
    public IEnumerable<ChannelGroup> ChannelGroups(HeadOptions options)
    {
        var widths = named_modules().Where(m => m.module is Convolution).ToDictionary(m => "head." + m.name, m => ((Convolution)m.module).out_channels);
        string Reader(string branch, int k) => $"head.heads.{branch}.{3 * k}";   // conv k of a branch; k = HeadConvLayers is its output conv
        var names = heads.Branches.Select(b => b.Name).ToList();
        yield return ChannelGroup.Chain(LayerNames.SharedConv, widths[LayerNames.SharedConv], LayerNames.SharedConv,
            LayerNames.NormAfter(LayerNames.SharedConv), names.Select(b => Reader(b, 0)));
        foreach (var branch in names)
            for (var k = 0; k < options.HeadConvLayers; k++)
            {
                var conv = LayerNames.HeadConv(branch, k);
                yield return ChannelGroup.Chain(conv, widths[conv], conv, LayerNames.NormAfter(conv), [Reader(branch, k + 1)]);
            }
    }

    public Dictionary<string, Tensor> forward(Tensor features) => Branches(Shared(features));

    /// <summary>The shared conv on the neck's features.</summary>
    public Tensor Shared(Tensor features) => shared.forward(features);

    /// <summary>Every branch's output map from the shared conv's output.</summary>
    public Dictionary<string, Tensor> Branches(Tensor x)
    {
        var outputs = new Dictionary<string, Tensor>();
        foreach (var (name, branch) in heads.Branches) outputs[name] = branch.forward(x);
        return outputs;
    }

    /// <summary><see cref="forward"/> as ONNX operators: each branch's map becomes a graph output of its name.</summary>
    public void WriteGraph(IGraphWriter graph, GraphValue features)
    {
        var x = graph.Layer(shared, features);
        foreach (var (name, branch) in heads.Branches) graph.Output(name, graph.Layer(branch, x));
    }
}

/// <summary>
/// The head's branches by name, registered as child modules (parameter names head.heads.NAME...). Not a ModuleDict:
/// TorchSharp's Module.to (dtype or device) throws for a module that holds one (it reflects the dictionary's indexer).
/// </summary>
internal sealed class HeadBranches() : nn.Module("heads")
{
    private readonly List<(string Name, nn.Module<Tensor, Tensor> Branch)> _branches = [];

    public IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Branch)> Branches => _branches;

    public void Add(string name, nn.Module<Tensor, Tensor> branch)
    {
        register_module(name, branch);
        _branches.Add((name, branch));
    }
}

/// <summary>The whole detector as one module tree: pillar feature net, BEV backbone with neck, CenterHead.</summary>
internal sealed class CenterPointNet : nn.Module
{
    private readonly PillarFeatureNet pfn;
    private readonly BevBackbone backbone;
    private readonly CenterHead head;

    public CenterPointNet(CenterPointOptions options, BevGrid grid, int classes, LayerUse use) : base("centerpoint")
    {
        var momentum = options.BatchNormMomentum;
        pfn = new PillarFeatureNet(options.PillarEncoder, grid, momentum, use);
        backbone = new BevBackbone(options.Backbone, options.Neck, pfn.Channels, grid, momentum, use);
        head = new CenterHead(options.Head, grid, backbone.OutputChannels, classes, momentum, use);
        RegisterComponents();
    }

    public Dictionary<string, Tensor> forward(Pillars pillars, int batchSize) =>
        head.forward(backbone.forward(pfn.forward(pillars, batchSize)));

    // ---- the forward pass in stages (IStagedForward): pillar net; per backbone stage its block, then its deblock;
    // the head's shared conv; the branches. The state between stages is [x, upsampled outputs so far...]: the last
    // block's output and the deblocks' outputs the neck will concatenate; before the branches, the shared conv's output.

    public int StageCount => 2 * backbone.Stages + 3;

    /// <summary>The stage that reads a module's parameters (a conv, its norm), by the module's name; -1 for a name of no stage.</summary>
    public int StageOf(string layer)
    {
        var backboneStages = backbone.Stages;
        if (layer.StartsWith(LayerNames.PillarNet + ".", StringComparison.Ordinal)) return 0;
        if (layer.StartsWith("head.heads.", StringComparison.Ordinal)) return 2 * backboneStages + 2;
        if (layer.StartsWith("head.shared.", StringComparison.Ordinal)) return 2 * backboneStages + 1;
        foreach (var (prefix, offset) in new[] { ("backbone.blocks.", 1), ("backbone.deblocks.", 2) })
        {
            if (!layer.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var rest = layer[prefix.Length..];
            var dot = rest.IndexOf('.');
            return int.TryParse(dot < 0 ? rest : rest[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i < backboneStages
                ? 2 * i + offset : -1;
        }
        return -1;
    }

    /// <summary>Runs stages [<paramref name="from"/>, <paramref name="to"/>) below the branches from <paramref name="state"/>.</summary>
    public IReadOnlyList<Tensor> RunStages(int from, int to, IReadOnlyList<Tensor> state, Pillars pillars, int batchSize)
    {
        if (from < 0 || to > StageCount - 1 || from > to) throw new ArgumentOutOfRangeException(nameof(to), $"Stages [{from}, {to}) of {StageCount}, the branches excluded.");
        var s = state.ToList();
        for (var k = from; k < to; k++)
        {
            if (k == 0) s = [pfn.forward(pillars, batchSize)];
            else if (k == StageCount - 2) s = [head.Shared(BevBackbone.Neck(s.Skip(1).ToList()))];
            else if (k % 2 == 1) s[0] = backbone.Block(k / 2, s[0]);
            else s.Add(backbone.Deblock(k / 2 - 1, s[0]));
        }
        return s;
    }

    /// <summary>Runs stages [<paramref name="from"/>, StageCount) from <paramref name="state"/>: the head's maps.</summary>
    public Dictionary<string, Tensor> ForwardFrom(int from, IReadOnlyList<Tensor> state, Pillars pillars, int batchSize) =>
        head.Branches(RunStages(from, StageCount - 1, state, pillars, batchSize)[0]);

    /// <summary>The detector for one frame as ONNX operators: pillar tensors in, the head's maps out.</summary>
    public void WriteGraph(IGraphWriter graph, GraphValue points, GraphValue counts, GraphValue coords, long maxPoints) =>
        head.WriteGraph(graph, backbone.WriteGraph(graph, pfn.WriteGraph(graph, points, counts, coords, maxPoints)));

    /// <summary>Every channel group of the detector in forward order (IChannelPrunable): the pillar net's, the backbone's and neck's, the head's.</summary>
    public IReadOnlyList<ChannelGroup> ChannelGroups(CenterPointOptions options) =>
    [
        ChannelGroup.Chain(LayerNames.PillarNet, pfn.Channels, "pfn.linear", "pfn.norm", [LayerNames.BlockConv(0, 0)]),
        .. backbone.ChannelGroups(options.Backbone),
        .. head.ChannelGroups(options.Head),
    ];
}
