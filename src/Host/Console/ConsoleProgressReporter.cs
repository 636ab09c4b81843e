using System.Diagnostics;
using Platform.Abstractions.Kit;

namespace Platform.Host.Console;

/// <summary>
/// Progress bars for long work. On a terminal one line is redrawn in place (bar, percentage, rate,
/// time left, status); when output is redirected (CI, files) a line is printed every 10%, so logs stay short.
/// </summary>
public sealed class ConsoleProgressReporter : IProgressReporter
{
    private static readonly object Gate = new();
    private static bool _lineOpen;
    private static readonly bool Interactive = !System.Console.IsOutputRedirected;

    public IProgressTask Start(string description, long total) => new Task(description, Math.Max(1, total));

    /// <summary>Ends an in-place progress line so that a log line starts on a fresh line.</summary>
    internal static void ClearLine()
    {
        lock (Gate)
        {
            if (!_lineOpen) return;
            System.Console.Out.WriteLine();
            _lineOpen = false;
        }
    }

    private sealed class Task(string description, long total) : IProgressTask
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private long _done;
        private int _lastDecile = -1;
        private long _lastDrawTicks;

        public void Advance(long amount = 1, string? status = null)
        {
            _done = Math.Min(total, _done + amount);
            Draw(status, force: _done == total);
        }

        private void Draw(string? status, bool force)
        {
            var fraction = (double)_done / total;
            var elapsed = _watch.Elapsed.TotalSeconds;
            var left = _done == 0 ? double.NaN : elapsed / _done * (total - _done);
            var text = $"{description} {Bar(fraction)} {fraction,4:P0} {_done}/{total} {Time(elapsed)} elapsed, {Time(left)} left{(status is null ? "" : "  " + status)}";
            lock (Gate)
            {
                if (Interactive)
                {
                    if (!force && _watch.ElapsedTicks - _lastDrawTicks < Stopwatch.Frequency / 10) return;
                    _lastDrawTicks = _watch.ElapsedTicks;
                    var width = Math.Max(40, SafeWidth() - 1);
                    System.Console.Out.Write("\r" + (text.Length > width ? text[..width] : text.PadRight(width)));
                    _lineOpen = true;
                    return;
                }
                var decile = (int)(fraction * 10);
                if (decile == _lastDecile && !force) return;
                if (force && _lastDecile == 10) return;
                _lastDecile = decile;
                System.Console.Out.WriteLine(text);
            }
        }

        public void Dispose()
        {
            if (_done < total) Draw(null, force: true);
            ClearLine();
        }

        private static int SafeWidth()
        {
            try { return System.Console.WindowWidth; } catch (IOException) { return 120; }
        }

        private static string Bar(double fraction)
        {
            const int width = 24;
            var filled = (int)Math.Round(fraction * width);
            return "[" + new string('#', filled) + new string('-', width - filled) + "]";
        }

        private static string Time(double seconds) =>
            double.IsNaN(seconds) || double.IsInfinity(seconds) ? "?" : TimeSpan.FromSeconds(Math.Round(seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"m\:ss");
    }
}
