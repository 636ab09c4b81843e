namespace Platform.Plugins.Models.CenterPoint; internal static class Placeholder;
