namespace Platform.Abstractions.Kit;

/// <summary>Progress of long work (epochs, calibration, generation); the host draws it on the console.</summary>
public interface IProgressReporter
{
    IProgressTask Start(string description, long total);
}

public interface IProgressTask : IDisposable
{
    void Advance(long amount = 1, string? status = null);
}

public sealed class NullProgressReporter : IProgressReporter, IProgressTask
{
    public static NullProgressReporter Instance { get; } = new();
    public IProgressTask Start(string description, long total) => this;
    public void Advance(long amount = 1, string? status = null) { }
    public void Dispose() { }
}
