using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Plugins.Models.CenterPoint;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint.Tests;

public class OverfitTests
{
    [Test]
    public void Training_on_two_frames_drives_the_loss_down_and_finds_their_boxes_again()
    {
        Seeding.Seed(0);
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        Sample[] frames =
        [
            Scenes.Frame("a", 1, Scenes.Car(6, -3, 0.2f), Scenes.Car(14, 4, 1.4f), Scenes.Pedestrian(9, 2)),
            Scenes.Frame("b", 2, Scenes.Car(10, -6, -0.5f), Scenes.Pedestrian(4, 5)),
        ];
        var history = new Trainer(RunServices.ForTesting()).Fit(model, new InMemorySampleSource("overfit", frames),
            new TrainOptions { Epochs = 150, BatchSize = 2, LearningRate = 5e-3, WeightDecay = 0 });

        Assert.That(history.EpochLoss[^1], Is.LessThan(history.EpochLoss[0] / 20), $"first {history.EpochLoss[0]:F3}, last {history.EpochLoss[^1]:F3}");
        var predictions = Inference.Predict(model, new InMemorySampleSource("overfit", frames), RunServices.ForTesting());
        foreach (var (sample, prediction) in predictions)
        {
            foreach (var box in sample.Boxes)
            {
                var found = prediction.Boxes.Where(p => p.ClassId == box.ClassId && p.Score > 0.3f)
                    .OrderBy(p => Math.Abs(p.X - box.X) + Math.Abs(p.Y - box.Y)).FirstOrDefault();
                Assert.That(found, Is.Not.EqualTo(default(Box3D)), $"{sample.Id}: no class {box.ClassId} box near ({box.X}, {box.Y})");
                Assert.That(Math.Sqrt((found.X - box.X) * (found.X - box.X) + (found.Y - box.Y) * (found.Y - box.Y)), Is.LessThan(0.3), $"{sample.Id}: centre");
                Assert.That(found.Length, Is.EqualTo(box.Length).Within(0.3 * box.Length), $"{sample.Id}: length");
            }
            Assert.That(prediction.Boxes.Count(p => p.Score > 0.3f), Is.EqualTo(sample.Boxes.Count), $"{sample.Id}: no extra confident boxes");
        }
    }
}
