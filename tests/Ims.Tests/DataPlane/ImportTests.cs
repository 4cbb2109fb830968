using System.Diagnostics;
using System.Security.Cryptography;
using Ims.DataPlane;
using static Ims.Tests.DataPlane.Patterns;

namespace Ims.Tests.DataPlane;

public sealed class ImportTests : IDisposable
{
    private readonly StoreFolder store = new();
    private static CancellationToken None => CancellationToken.None;

    public void Dispose() => store.Dispose();

    private static void QemuImg(params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("qemu-img", arguments) { RedirectStandardError = true })!;
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, errors);
    }

    [Fact]
    public async Task A_qcow2_image_imports_with_its_virtual_size_and_restores_byte_for_byte()
    {
        var raw = Path.Combine(store.Root, "disk.raw");
        var image = new byte[12 * MiB];
        Random(MiB, 1).CopyTo(image, 0);
        Repeated(2 * MiB, 2).CopyTo(image, 9 * MiB);
        await File.WriteAllBytesAsync(raw, image);
        var qcow2 = Path.Combine(store.Root, "disk.qcow2");
        QemuImg("convert", "-f", "raw", "-O", "qcow2", raw, qcow2);

        using var lease = await store.Plane.ImportAsync(qcow2, DiskFormat.Qcow2, None);
        Assert.Equal(image.Length, lease.Disks[0].SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(image)), await store.Plane.HashManifestAsync(lease.Disks[0].ManifestId, None));
    }

    [Fact]
    public async Task A_qcow2_image_with_a_backing_file_is_refused()
    {
        var backing = Path.Combine(store.Root, "base.qcow2");
        QemuImg("create", "-f", "qcow2", backing, "8M");
        var overlay = Path.Combine(store.Root, "overlay.qcow2");
        QemuImg("create", "-f", "qcow2", "-F", "qcow2", "-b", backing, overlay);

        var error = await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(overlay, DiskFormat.Qcow2, None));
        Assert.Contains("backing file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_qcow2_image_is_invalid()
    {
        var qcow2 = Path.Combine(store.Root, "cut.qcow2");
        QemuImg("create", "-f", "qcow2", qcow2, "64M");
        var bytes = await File.ReadAllBytesAsync(qcow2);
        await File.WriteAllBytesAsync(qcow2, bytes[..100]);
        await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(qcow2, DiskFormat.Qcow2, None));
    }

    [Theory]
    [InlineData(DiskFormat.Vhd, "vpc", "force_size=on")]
    [InlineData(DiskFormat.Vhdx, "vhdx", null)]
    [InlineData(DiskFormat.Vmdk, "vmdk", null)]
    [InlineData(DiskFormat.Vmdk, "vmdk", "subformat=streamOptimized")]
    [InlineData(DiskFormat.Qed, "qed", null)]
    [InlineData(DiskFormat.Vdi, "vdi", null)]
    public async Task Every_format_qemu_img_reads_imports_byte_for_byte(DiskFormat format, string qemuFormat, string? options)
    {
        var raw = Path.Combine(store.Root, "disk.raw");
        var image = new byte[12 * MiB];
        Random(MiB, 3).CopyTo(image, 0);
        Repeated(MiB, 4).CopyTo(image, 7 * MiB);
        await File.WriteAllBytesAsync(raw, image);
        var converted = Path.Combine(store.Root, $"disk.{qemuFormat}");
        QemuImg(["convert", "-f", "raw", "-O", qemuFormat, .. options is null ? Array.Empty<string>() : ["-o", options], raw, converted]);

        using var lease = await store.Plane.ImportAsync(converted, format, None);
        Assert.Equal(image.Length, lease.Disks[0].SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(image)), await store.Plane.HashManifestAsync(lease.Disks[0].ManifestId, None));
    }

    [Fact]
    public async Task A_file_that_is_not_what_its_format_says_is_refused()
    {
        var qcow2 = Path.Combine(store.Root, "disk.qcow2");
        QemuImg("create", "-f", "qcow2", qcow2, "8M");
        foreach (var format in new[] { DiskFormat.Vhd, DiskFormat.Vhdx, DiskFormat.Vmdk, DiskFormat.Qed, DiskFormat.Vdi, DiskFormat.Iso })
            await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(qcow2, format, None));
    }

    [Fact]
    public async Task Images_that_name_other_files_are_refused()
    {
        // A QED image over a backing file.
        var backing = Path.Combine(store.Root, "base.raw");
        await File.WriteAllBytesAsync(backing, Random(MiB, 5));
        var qed = Path.Combine(store.Root, "overlay.qed");
        QemuImg("create", "-f", "qed", "-F", "raw", "-b", backing, qed);
        var error = await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(qed, DiskFormat.Qed, None));
        Assert.Contains("backing file", error.Message, StringComparison.Ordinal);

        // A VMDK descriptor whose extent is another file of this machine.
        var vmdk = Path.Combine(store.Root, "descriptor.vmdk");
        await File.WriteAllTextAsync(vmdk, $"""
            # Disk DescriptorFile
            version=1
            CID=fffffffe
            parentCID=ffffffff
            createType="monolithicFlat"

            RW 2048 FLAT "{backing}" 0

            ddb.virtualHWVersion = "4"
            """);
        error = await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(vmdk, DiskFormat.Vmdk, None));
        Assert.Contains("extents", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(store.Root, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ISO_is_stored_as_it_is_and_needs_a_volume_descriptor()
    {
        var iso = new byte[64 * 2048];
        Random(4096, 6).CopyTo(iso, 0);
        iso[16 * 2048] = 1;
        "CD001"u8.CopyTo(iso.AsSpan(16 * 2048 + 1));
        var path = Path.Combine(store.Root, "disk.iso");
        await File.WriteAllBytesAsync(path, iso);
        using (var lease = await store.Plane.ImportAsync(path, DiskFormat.Iso, None))
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(iso)), await store.Plane.HashManifestAsync(lease.Disks[0].ManifestId, None));

        iso[16 * 2048 + 1] = (byte)'X';
        await File.WriteAllBytesAsync(path, iso);
        await Assert.ThrowsAsync<InvalidDiskImageException>(() => store.Plane.ImportAsync(path, DiskFormat.Iso, None));
    }
}
