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
}
