using System.Buffers.Binary;
using System.ComponentModel;
using System.Diagnostics;
using Ims.DataPlane.Capture;
using Ims.DataPlane.Manifests;
using Ims.DataPlane.Native;
using Microsoft.Win32.SafeHandles;

namespace Ims.DataPlane.Import;

/// <summary>A raw image file as a disk to chunk (nothing writes to it meanwhile).</summary>
internal sealed class RawFileSource(SafeFileHandle file, long size) : DiskSource
{
    public override string VolumeId => "";
    public override long DiskSize => size;

    public override IEnumerable<ChunkWork> Plan()
    {
        var regions = new DataRegions(file);
        for (long chunk = 0; chunk < Manifest.ChunkCountOf(size); chunk++)
        {
            var start = chunk * DataPlane.ChunkSize;
            if (regions.AnyData(start, start + Manifest.ChunkLength(size, chunk))) yield return new ChunkWork(this, chunk, null);
        }
    }

    public override bool ReadChunk(long index, Span<byte> destination) =>
        SparseFile.Read(file, index * DataPlane.ChunkSize, destination);

    public override void Prefetch(long index) =>
        Posix.WillNeed(file, index * DataPlane.ChunkSize, Manifest.ChunkLength(size, index));
}

/// <summary>Checks uploaded images and turns qcow2 into raw with qemu-img.</summary>
internal static class ImageFormats
{
    private const int SectorSize = 512;
    private const uint Qcow2Magic = 0x514649fb; // "QFI\xfb"
    private const ulong ExternalDataFileFeature = 1UL << 2;

    public static long CheckRaw(SafeFileHandle file, string path)
    {
        var size = RandomAccess.GetLength(file);
        if (size == 0) throw new InvalidDiskImageException($"The raw image {Path.GetFileName(path)} is empty.");
        if (size % SectorSize != 0)
            throw new InvalidDiskImageException(
                $"The raw image {Path.GetFileName(path)} is {size} bytes, not a whole number of {SectorSize}-byte sectors.");
        return size;
    }

    /// <summary>
    /// Refuses anything but a self-contained qcow2: a backing file or an external data file would make the
    /// conversion read other files of this machine.
    /// </summary>
    public static void CheckQcow2(string path)
    {
        Span<byte> header = stackalloc byte[104];
        int read;
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
            read = RandomAccess.Read(file, header, 0);
        if (read < 72 || BinaryPrimitives.ReadUInt32BigEndian(header) != Qcow2Magic)
            throw new InvalidDiskImageException("it has no qcow2 header.");
        var version = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (version is not (2 or 3)) throw new InvalidDiskImageException($"qcow2 version {version} is not supported.");
        if (BinaryPrimitives.ReadUInt64BigEndian(header[8..]) != 0)
            throw new InvalidDiskImageException("qcow2 images with a backing file are not accepted; upload a standalone image.");
        if (version == 3 && read >= 80 && (BinaryPrimitives.ReadUInt64BigEndian(header[72..]) & ExternalDataFileFeature) != 0)
            throw new InvalidDiskImageException("qcow2 images with an external data file are not accepted.");
    }

    public static async Task ConvertQcow2ToRawAsync(string source, string rawDestination, CancellationToken ct)
    {
        var start = new ProcessStartInfo("qemu-img")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "convert", "-q", "-f", "qcow2", "-O", "raw", "-S", "4k", source, rawDestination })
            start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidDiskImageException("qemu-img could not be started.");
        }
        catch (Win32Exception)
        {
            throw new InvalidDiskImageException(
                "qcow2 images need qemu-img, which is not installed on this host (Debian package qemu-utils).");
        }
        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync(ct);
            _ = process.StandardOutput.ReadToEndAsync(ct);
            try
            {
                await process.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode != 0)
            {
                // qemu-img names the files it was given: host paths that an error shown to a client must not carry.
                var message = (await errors.ConfigureAwait(false)).Trim()
                    .Replace(source, "the image", StringComparison.Ordinal)
                    .Replace(rawDestination, "the converted disk", StringComparison.Ordinal);
                throw new InvalidDiskImageException($"The qcow2 image is not readable: {(message.Length > 300 ? message[..300] : message)}");
            }
        }
    }
}
