namespace Ims.Bench.Data;

/// <summary>What one timed operation of a tool took, and anything it reported about itself.</summary>
internal sealed record Timed(TimeSpan Elapsed, string? Note = null);

/// <summary>
/// One backup tool as the benchmark drives it: the same disk file, the same phases. A backup is timed as the tool runs
/// (each of them makes its repository durable itself: restic and borg fsync their files, ours fsyncs its chunks); a
/// restore is timed until the restored files are on disk (the tool's run plus an fsync of each restored file, which
/// costs nothing for a tool that flushed them itself).
/// </summary>
internal interface IBackupTool
{
    string Name { get; }

    /// <summary>Whether its repository is a bucket of the RADOS Gateway (the <c>--rgw</c> rows) rather than a local folder.</summary>
    bool InObjectStore => false;

    /// <summary>How the tool is invoked, for the printed record.</summary>
    string Invocation { get; }

    /// <summary>Untimed set-up: an empty repository (and, for ours, the volume holding the disk).</summary>
    Task PrepareAsync(CancellationToken ct);

    Task<Timed> BackupAsync(int round, CancellationToken ct);

    /// <summary>The 1% change, for a tool that holds its own copy of the disk (ours); the file is changed by the bench.</summary>
    Task ApplyChangeAsync(CancellationToken ct);

    /// <summary>Restores the last backup, then (untimed) hashes what it restored and removes it.</summary>
    Task<(Timed Time, string Sha256)> RestoreAsync(CancellationToken ct);

    long StoredBytes();

    void Cleanup();
}

/// <summary>
/// restic 0.14 with a format-2 repository, so that it compresses (auto): on a local folder, or with <c>rgw</c> and
/// <c>bucket</c> in that bucket of the gateway through restic's own S3 backend (<c>-r s3:ENDPOINT/BUCKET</c>).
/// </summary>
internal sealed class Restic(string work, string disk, Rgw? rgw = null, string? bucket = null) : IBackupTool
{
    private readonly string _label = rgw is null ? "restic" : "restic-s3";
    private string Repo => Path.Combine(work, $"{_label}-repo");
    private string RestoreDir => Path.Combine(work, $"{_label}-restore");
    private string PasswordFile => Path.Combine(work, $"{_label}-password");
    private string CacheDir => Path.Combine(work, $"{_label}-cache");

    public string Name => rgw is null ? "restic" : "restic, S3 on RGW";
    public bool InObjectStore => rgw is not null;

    public string Invocation => "restic init --repository-version 2; restic backup --compression auto FILE (x2); restic restore latest --target DIR"
                                + (rgw is null ? "" : $"; -r s3:{rgw.Endpoint}/{bucket} with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");

    private Dictionary<string, string> Environment
    {
        get
        {
            var environment = new Dictionary<string, string>
            {
                ["RESTIC_REPOSITORY"] = rgw is null ? Repo : $"s3:{rgw.Endpoint}/{bucket}",
                ["RESTIC_PASSWORD_FILE"] = PasswordFile,
                ["RESTIC_CACHE_DIR"] = CacheDir,
            };
            if (rgw is not null)
            {
                environment["AWS_ACCESS_KEY_ID"] = rgw.AccessKey;
                environment["AWS_SECRET_ACCESS_KEY"] = rgw.SecretKey;
            }
            return environment;
        }
    }

    public async Task PrepareAsync(CancellationToken ct)
    {
        await File.WriteAllTextAsync(PasswordFile, "bench-password\n", ct);
        await ExternalProgram.RunAsync("restic", ["init", "-q", "--repository-version", "2"], ct, environment: Environment);
    }

    public async Task<Timed> BackupAsync(int round, CancellationToken ct)
    {
        return new Timed(await ExternalProgram.RunAsync("restic", ["backup", "-q", "--compression", "auto", disk], ct, environment: Environment));
    }

    public Task ApplyChangeAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task<(Timed, string)> RestoreAsync(CancellationToken ct)
    {
        var run = await ExternalProgram.RunAsync("restic", ["restore", "-q", "latest", "--target", RestoreDir], ct, environment: Environment);
        var time = new Timed(run + Storage.FlushFiles(RestoreDir));
        var restored = Path.Combine(RestoreDir, disk.TrimStart('/'));
        var hash = BenchDisk.HashFile(restored);
        Storage.DeleteFolder(RestoreDir);
        return (time, hash);
    }

    public long StoredBytes() => rgw is null ? Storage.FolderBytes(Repo) : rgw.BucketBytes(bucket!);

    public void Cleanup()
    {
        Storage.DeleteFolder(Repo);
        Storage.DeleteFolder(RestoreDir);
        Storage.DeleteFolder(CacheDir);
        File.Delete(PasswordFile);
        rgw?.EmptyBucket(bucket!);
    }
}

/// <summary>
/// borg 1.2, unencrypted, default compression (lz4): with its default content-defined chunker, or with fixed 4 MiB
/// chunks and <c>--sparse</c> (holes detected with SEEK_HOLE instead of read), its fastest way through a sparse disk.
/// </summary>
internal sealed class Borg(string work, string disk, bool fixedChunks) : IBackupTool
{
    private readonly string _label = fixedChunks ? "borg-fixed" : "borg";
    private int _lastRound;
    private string Repo => Path.Combine(work, $"{_label}-repo");
    private string RestoreDir => Path.Combine(work, $"{_label}-restore");
    private string Home => Path.Combine(work, $"{_label}-home");

    public string Name => fixedChunks ? "borg fixed 4 MiB, sparse" : "borg (default chunker)";

    public string Invocation => fixedChunks
        ? "borg init --encryption=none; borg create --chunker-params fixed,4194304 --sparse REPO::N FILE (x2); borg extract --sparse"
        : "borg init --encryption=none; borg create REPO::N FILE (x2); borg extract --sparse";

    private Dictionary<string, string> Environment => new()
    {
        // Its cache and security folders under the run's folder, so nothing of a run is left in root's home.
        ["BORG_BASE_DIR"] = Home,
        ["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "yes",
        ["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes",
    };

    public Task PrepareAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(Home);
        return ExternalProgram.RunAsync("borg", ["init", "--encryption=none", Repo], ct, environment: Environment);
    }

    public async Task<Timed> BackupAsync(int round, CancellationToken ct)
    {
        List<string> arguments = ["create"];
        if (fixedChunks) arguments.AddRange(["--chunker-params", "fixed,4194304", "--sparse"]);
        arguments.AddRange([$"{Repo}::backup{round}", disk]);
        _lastRound = round;
        var run = await ExternalProgram.RunAsync("borg", arguments, ct, environment: Environment);
        return new Timed(run + await PageCache.SyncAsync(ct));
    }

    public Task ApplyChangeAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task<(Timed, string)> RestoreAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(RestoreDir);
        var run = await ExternalProgram.RunAsync("borg", ["extract", "--sparse", $"{Repo}::backup{_lastRound}"], ct, RestoreDir, Environment);
        var time = new Timed(run + Storage.FlushFiles(RestoreDir));
        var hash = BenchDisk.HashFile(Path.Combine(RestoreDir, disk.TrimStart('/')));
        Storage.DeleteFolder(RestoreDir);
        return (time, hash);
    }

    public long StoredBytes() => Storage.FolderBytes(Repo);

    public void Cleanup()
    {
        Storage.DeleteFolder(Repo);
        Storage.DeleteFolder(RestoreDir);
        Storage.DeleteFolder(Home);
    }
}
