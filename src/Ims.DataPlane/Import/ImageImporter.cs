using System.Buffers.Binary;
using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
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

/// <summary>Checks uploaded images and turns them into raw disks with qemu-img.</summary>
internal static class ImageFormats
{
    private const int SectorSize = 512;
    private const uint Qcow2Magic = 0x514649fb; // "QFI\xfb"
    private const ulong ExternalDataFileFeature = 1UL << 2;

    /// <summary>Where an ISO 9660 or UDF volume descriptor starts (sector 16 of 2048 bytes), and its identifiers.</summary>
    private const int IsoDescriptorOffset = 16 * 2048;

    /// <summary>qemu's name of each converted format: it is always given (<c>-f</c>), never probed.</summary>
    private static string QemuFormat(DiskFormat format) => format switch
    {
        DiskFormat.Qcow2 => "qcow2",
        DiskFormat.Vhd => "vpc",
        DiskFormat.Vhdx => "vhdx",
        DiskFormat.Vmdk => "vmdk",
        DiskFormat.Qed => "qed",
        DiskFormat.Vdi => "vdi",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Raw and ISO images are not converted."),
    };

    /// <summary>What the user calls the format in messages.</summary>
    private static string Name(DiskFormat format) => format.ToString().ToLowerInvariant();

    public static long CheckRaw(SafeFileHandle file, string path)
    {
        var size = RandomAccess.GetLength(file);
        if (size == 0) throw new InvalidDiskImageException($"The raw image {Path.GetFileName(path)} is empty.");
        if (size % SectorSize != 0)
            throw new InvalidDiskImageException(
                $"The raw image {Path.GetFileName(path)} is {size} bytes, not a whole number of {SectorSize}-byte sectors.");
        return size;
    }

    /// <summary>An ISO file must carry an ISO 9660 (<c>CD001</c>) or UDF (<c>BEA01</c>) volume descriptor where they live.</summary>
    public static void CheckIso(string path)
    {
        Span<byte> descriptor = stackalloc byte[6];
        int read;
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
            read = RandomAccess.Read(file, descriptor, IsoDescriptorOffset);
        if (read < 6 || !(descriptor[1..6].SequenceEqual("CD001"u8) || descriptor[1..6].SequenceEqual("BEA01"u8)))
            throw new InvalidDiskImageException("it has no ISO 9660 or UDF volume descriptor.");
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

    /// <summary>
    /// Asks qemu-img what the file is, read as <paramref name="format"/> only: it must open as that format and name no
    /// other file (no backing file, no external data file, every VMDK extent the file itself), or the conversion would
    /// read other files of this machine.
    /// </summary>
    public static async Task CheckSelfContainedAsync(string path, DiskFormat format, CancellationToken ct)
    {
        var output = await RunAsync(["info", "--output=json", "-f", QemuFormat(format), path], path, null, format, ct).ConfigureAwait(false);
        JsonNode? info;
        try
        {
            info = JsonNode.Parse(output);
        }
        catch (JsonException)
        {
            throw new InvalidDiskImageException($"qemu-img could not describe the {Name(format)} image.");
        }
        if (info?["backing-filename"] is not null || info?["full-backing-filename"] is not null)
            throw new InvalidDiskImageException($"{Name(format)} images with a backing file are not accepted; upload a standalone image.");
        var data = info?["format-specific"]?["data"];
        if (data?["data-file"] is not null)
            throw new InvalidDiskImageException($"{Name(format)} images with an external data file are not accepted.");
        var full = Path.GetFullPath(path);
        foreach (var extent in data?["extents"]?.AsArray() ?? [])
        {
            var file = (string?)extent?["filename"];
            if (file is null || Path.GetFullPath(file, Path.GetDirectoryName(full)!) != full)
                throw new InvalidDiskImageException("VMDK images whose extents live in other files are not accepted; upload a monolithic (streamOptimized or monolithicSparse) VMDK.");
        }
    }

    public static Task ConvertToRawAsync(string source, DiskFormat format, string rawDestination, CancellationToken ct) =>
        RunAsync(["convert", "-q", "-f", QemuFormat(format), "-O", "raw", "-S", "4k", source, rawDestination], source, rawDestination, format, ct);

    /// <summary>
    /// Converts a raw disk into <paramref name="format"/>. VHD is written with <c>force_size</c>: qemu would otherwise
    /// round the disk up to a cylinder/head/sector geometry, and the file would not give back the same disk.
    /// </summary>
    public static Task ConvertFromRawAsync(string raw, DiskFormat format, string destination, CancellationToken ct) =>
        RunAsync(["convert", "-q", "-f", "raw", "-O", QemuFormat(format), .. format == DiskFormat.Vhd ? new[] { "-o", "force_size=on" } : [],
            raw, destination], raw, destination, format, ct);

    /// <summary>Runs qemu-img and returns its standard output; a failure is the image's fault (<see cref="InvalidDiskImageException"/>).</summary>
    private static async Task<string> RunAsync(string[] arguments, string source, string? destination, DiskFormat format, CancellationToken ct)
    {
        var start = new ProcessStartInfo("qemu-img")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            // Relative names inside an image resolve next to it, never in the service's folder.
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(source))!,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidDiskImageException("qemu-img could not be started.");
        }
        catch (Win32Exception)
        {
            throw new InvalidDiskImageException(
                $"{Name(format)} images need qemu-img, which is not installed on this host (Debian package qemu-utils).");
        }
        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync(ct);
            var output = process.StandardOutput.ReadToEndAsync(ct);
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
                    .Replace(Path.GetFullPath(source), "the image", StringComparison.Ordinal)
                    .Replace(source, "the image", StringComparison.Ordinal);
                if (destination is not null) message = message.Replace(destination, "the converted disk", StringComparison.Ordinal);
                message = message.Replace(Path.GetDirectoryName(Path.GetFullPath(source))!, "…", StringComparison.Ordinal);
                throw new InvalidDiskImageException($"The {Name(format)} image is not readable: {(message.Length > 300 ? message[..300] : message)}");
            }
            return await output.ConfigureAwait(false);
        }
    }
}
