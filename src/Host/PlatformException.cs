namespace Platform.Host;

/// <summary>
/// An error in what the user gave us (a file, a config key, a plugin): the message alone is shown,
/// without a stack trace, and the process exits non-zero.
/// </summary>
public sealed class PlatformException(string message, Exception? inner = null) : Exception(message, inner);
