namespace Platform.Plugins.Sparsify.Points;
internal static class Placeholder;
