namespace Platform.Abstractions.Data;

/// <summary>
/// A 3D box in the lidar frame: centre (x forward, y left, z up) at the box's geometric centre,
/// size along its own axes (length along heading, width, height), heading (yaw) about +z from +x.
/// </summary>
public readonly record struct Box3D(
    float X, float Y, float Z,
    float Length, float Width, float Height,
    float Yaw,
    int ClassId,
    float Score = 1f);
