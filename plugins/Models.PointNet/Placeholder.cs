namespace Platform.Plugins.Models.PointNet; internal static class Placeholder;
