namespace Platform.Plugins.Pruning.HessianDP; internal static class Placeholder;
