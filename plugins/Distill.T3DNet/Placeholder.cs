namespace Platform.Plugins.Distill.T3DNet; internal static class Placeholder;
