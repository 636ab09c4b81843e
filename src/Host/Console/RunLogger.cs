using Microsoft.Extensions.Logging;

namespace Platform.Host.Console;

/// <summary>
/// Logs of a run: every line to run.log in the output folder, information and above also to the
/// console. Small on purpose: the console and the file are all a run needs.
/// </summary>
public sealed class RunLoggerProvider(string? logFile, LogLevel consoleLevel = LogLevel.Information) : ILoggerProvider
{
    private readonly object _gate = new();
    private readonly StreamWriter? _file = logFile is null ? null : OpenLog(logFile);

    private static StreamWriter OpenLog(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return new StreamWriter(path, append: true) { AutoFlush = true };
    }

    public ILogger CreateLogger(string categoryName) => new RunLogger(this, categoryName);

    internal void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var line = $"{DateTime.UtcNow:HH:mm:ss} {Short(level)} {category}: {message}";
        lock (_gate)
        {
            _file?.WriteLine(exception is null ? line : line + Environment.NewLine + exception);
            if (level >= consoleLevel)
            {
                ConsoleProgressReporter.ClearLine();
                var writer = level >= LogLevel.Warning ? System.Console.Error : System.Console.Out;
                writer.WriteLine(level >= LogLevel.Warning ? $"{Short(level)}: {message}" : message);
            }
        }
    }

    private static string Short(LogLevel level) => level switch
    {
        LogLevel.Warning => "warning",
        LogLevel.Error or LogLevel.Critical => "error",
        LogLevel.Debug or LogLevel.Trace => "debug",
        _ => "info",
    };

    public void Dispose() => _file?.Dispose();

    private sealed class RunLogger(RunLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) provider.Write(logLevel, category, formatter(state, exception), exception);
        }
    }
}
