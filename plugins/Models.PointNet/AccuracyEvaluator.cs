using System.Globalization;
using System.Text;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// Overall accuracy (correct / shapes) and mean class accuracy (the average of per-class recalls, the second
/// figure ModelNet40 papers report), both in percent; a per-class table; the confusion matrix as CSV.
/// </summary>
public sealed class AccuracyEvaluator(NoOptions options) : IEvaluator
{
    public StepOutcome Evaluate(IReadOnlyList<(Sample Sample, Prediction Prediction)> items, DatasetInfo dataset, string outputDirectory)
    {
        _ = options;
        var classes = dataset.ClassNames.Count;
        if (items.Count == 0) throw new InvalidOperationException("The accuracy evaluator was given no predictions.");
        var confusion = new long[classes, classes];
        foreach (var (sample, prediction) in items)
        {
            if (sample.Label < 0 || sample.Label >= classes)
                throw new ArgumentException($"Sample '{sample.Id}' has label {sample.Label}; dataset '{dataset.Name}' has {classes} classes.");
            if (prediction.ClassId < 0 || prediction.ClassId >= classes)
                throw new ArgumentException($"The prediction for sample '{sample.Id}' is class {prediction.ClassId}; dataset '{dataset.Name}' has {classes} classes.");
            confusion[sample.Label, prediction.ClassId]++;
        }
        long correct = 0;
        var rows = new List<IReadOnlyList<string>>();
        var recalls = new List<double>();
        for (var c = 0; c < classes; c++)
        {
            long total = 0;
            for (var p = 0; p < classes; p++) total += confusion[c, p];
            correct += confusion[c, c];
            if (total == 0) continue;   // a class absent from the split does not count towards the mean
            var recall = (double)confusion[c, c] / total;
            recalls.Add(recall);
            rows.Add([dataset.ClassNames[c], total.ToString(CultureInfo.InvariantCulture), (100 * recall).ToString("F2", CultureInfo.InvariantCulture)]);
        }
        var outcome = new StepOutcome();
        outcome.Metrics["accuracy"] = 100.0 * correct / items.Count;
        outcome.Metrics["meanClassAccuracy"] = 100.0 * recalls.Average();
        outcome.Tables.Add(new ReportTable("Accuracy per class (%)", ["class", "shapes", "accuracy"], rows));
        outcome.Resamplable = new AccuracyResampling(items.Select(i => i.Sample.Id).ToArray(), items.Select(i => i.Sample.Label).ToArray(), items.Select(i => i.Prediction.ClassId).ToArray(), classes);

        var csv = new StringBuilder("label\\predicted," + string.Join(",", dataset.ClassNames) + "\n");
        for (var c = 0; c < classes; c++)
            csv.Append(dataset.ClassNames[c]).Append(',').AppendJoin(",", Enumerable.Range(0, classes).Select(p => confusion[c, p])).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "confusion.csv"), csv.ToString());
        outcome.Files.Add(Path.GetFullPath(Path.Combine(outputDirectory, "confusion.csv")));
        return outcome;
    }
}

/// <summary>Accuracy and mean class accuracy with shapes counted any number of times: intervals over shapes.</summary>
public sealed class AccuracyResampling(IReadOnlyList<string> ids, int[] labels, int[] predicted, int classes) : IResamplableMetrics
{
    public IReadOnlyList<string> SampleIds => ids;

    public IReadOnlyDictionary<string, double> Compute(int[] counts)
    {
        var total = new long[classes];
        var correct = new long[classes];
        for (var i = 0; i < labels.Length; i++)
        {
            total[labels[i]] += counts[i];
            if (predicted[i] == labels[i]) correct[labels[i]] += counts[i];
        }
        var recalls = Enumerable.Range(0, classes).Where(c => total[c] > 0).Select(c => (double)correct[c] / total[c]).ToArray();
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["accuracy"] = 100.0 * correct.Sum() / Math.Max(1, total.Sum()),
            ["meanClassAccuracy"] = 100.0 * (recalls.Length == 0 ? 0 : recalls.Average()),
        };
    }
}
