namespace Platform.Plugins.Datasets.KITTI; internal static class Placeholder;
