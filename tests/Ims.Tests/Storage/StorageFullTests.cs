using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Ims.Service.Storage;
using Ims.Tests.Backups;
using Ims.Tests.DataPlane;
using Ims.Tests.Infrastructure;
using Ims.Tests.Ims;
using Microsoft.Data.Sqlite;

namespace Ims.Tests.Storage;

/// <summary>
/// The data folder's file system runs full (a small tmpfs, filled on purpose): every API that needed the space answers
/// 400 <c>IMG.0182</c> in its service's shape instead of a 500, a mode-A job fails at once (one attempt) with that code
/// and a reason that says space ran out, and everything works again once space is freed.
/// </summary>
public sealed class StorageFullTests
{
    private const long FileSystemBytes = 96L * 1024 * 1024;
    private const string StorageFull = "IMG.0182";

    [SmallFileSystemFact]
    public async Task A_data_endpoint_write_on_a_full_disk_answers_400_and_works_once_space_is_freed()
    {
        using var disk = new SmallFileSystem(FileSystemBytes);
        await using var service = await TestService.StartAsync(disk.Path);
        var client = service.Client(TestAccounts.Alice);
        var server = await TestServers.CreateAsync(service, client, 10);
        var volumeId = server.DataVolumes[0].Id;
        var bytes = DiskBytes.Pattern(11, 2 * 1024 * 1024);

        disk.Fill();
        using (var refused = await DiskBytes.SendAsync(client, HttpMethod.Put, DiskBytes.PathOf(client, volumeId, "bytes?offset=0"), bytes))
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{(int)refused.StatusCode} {body}");
            Assert.Equal(StorageFull, (string?)JsonNode.Parse(body)!["error"]!["code"]);
        }

        disk.Free();
        await DiskBytes.WriteAsync(client, volumeId, 0, bytes);
        Assert.Equal(bytes, await DiskBytes.ReadAsync(client, volumeId, 0, bytes.Length));
    }

    [SmallFileSystemFact]
    public async Task A_native_upload_on_a_full_disk_answers_400_leaves_the_image_queued_and_works_once_space_is_freed()
    {
        using var disk = new SmallFileSystem(FileSystemBytes);
        await using var service = await TestService.StartAsync(disk.Path);
        var client = service.Client(TestAccounts.Alice);
        var imageId = (string)(await ImageFiles.CreateAsync(client, "raw"))["id"]!;
        var file = DiskBytes.Pattern(12, 4 * 1024 * 1024);

        disk.Fill();
        (await ImageFiles.UploadAsync(client, imageId, file)).ExpectImsError(400, StorageFull);
        // The failure was recorded although the disk was full (the space reserve): the image takes another upload.
        Assert.Equal("queued", (string?)(await client.GetAsync($"/v2/images/{imageId}")).Expect(200)["status"]);

        disk.Free();
        (await ImageFiles.UploadAsync(client, imageId, file)).Expect(204);
        var image = (await client.GetAsync($"/v2/images/{imageId}")).Expect(200);
        Assert.Equal("active", (string?)image["status"]);
        Assert.Equal(file.Length, (long)image["size"]!);
    }

    [SqliteOnSmallFileSystemFact]
    public async Task A_small_database_write_on_a_full_disk_answers_400_and_works_once_space_is_freed()
    {
        using var disk = new SmallFileSystem(FileSystemBytes);
        await using var service = await TestService.StartAsync(disk.Path);
        var client = service.Client(TestAccounts.Alice);
        // An empty write-ahead log: the next commit must grow it, as it does whenever the log is full of pages that
        // readers still need.
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(disk.Path, "ims.db")};Pooling=False"))
        {
            connection.Open();
            connection.Execute("PRAGMA wal_checkpoint(TRUNCATE)");
        }

        disk.Fill();
        var name = Servers.UniqueName("full");
        (await client.PostAsync(ImageFiles.CreatePath, new { name, disk_format = "raw" })).ExpectImsError(400, StorageFull);

        disk.Free();
        (await client.PostAsync(ImageFiles.CreatePath, new { name, disk_format = "raw" })).Expect(201);
        Assert.Single((await client.GetAsync($"/v2/images?name={name}")).Expect(200)["images"].AsArray());
    }

    [SmallFileSystemFact]
    public async Task A_mode_A_job_on_a_full_disk_fails_at_once_saying_space_ran_out_and_succeeds_once_space_is_freed()
    {
        using var disk = new SmallFileSystem(FileSystemBytes);
        await using var service = await TestService.StartAsync(disk.Path);
        var client = service.Client(TestAccounts.Bob);
        var server = await TestServers.CreateAsync(service, client, 10);
        await DiskBytes.WriteAsync(client, server.DataVolumes[0].Id, 0, DiskBytes.Pattern(13, 6 * 1024 * 1024));
        var vaultId = await Cbr.CreateVaultAsync(client);

        // Room for the request's own rows, none for the backup's chunks.
        disk.Fill(leave: 1024 * 1024);
        var job = await client.WaitForJobAsync(await WholeImages.CreateAsync(client, new { name = "full", instance_id = server.Id, vault_id = vaultId }));

        Assert.Equal("FAIL", (string?)job["status"]);
        Assert.Equal(StorageFull, (string?)job["error_code"]);
        Assert.Contains("ran out of space", (string?)job["fail_reason"]);
        Assert.Equal(1, await AttemptsAsync(service, (string)job["job_id"]!));
        Assert.Empty((await client.GetAsync($"/v2/cloudimages?id={(string)job["entities"]!["image_id"]!}")).Expect(200)["images"].AsArray());
        Assert.Null(await TestServers.TaskStateAsync(client, server.Id));

        disk.Free();
        await WholeImages.WaitForImageAsync(client, await WholeImages.CreateAsync(client, new { name = "roomy", instance_id = server.Id, vault_id = vaultId }));
        // The reserve that made room for recording the failure is made again as requests come by.
        await Poll.UntilAsync(async () =>
        {
            (await client.GetAsync($"/v1/{client.ProjectId}/jobs/{(string)job["job_id"]!}")).Expect(200);
            return File.Exists(Path.Combine(disk.Path, SpaceReserve.FileName));
        }, TimeSpan.FromSeconds(30), "the space reserve to be made again");
    }

    [Fact]
    public void Both_databases_and_file_writes_name_running_out_of_space_as_one_error()
    {
        var sqlite = new SqliteException("database or disk is full", 13);
        var postgres = new Npgsql.PostgresException("could not extend file", "ERROR", "ERROR", "53100");
        var noSpace = new IOException("No space left on device", 28);
        var quota = new IOException("Disk quota exceeded", 122);

        using var sqliteDb = new SqliteDatabase(Path.Combine(TestService.NewDataDir(), "ims.db"));
        Assert.NotNull(sqliteDb.StorageFull(sqlite));
        Assert.NotNull(sqliteDb.StorageFull(new InvalidOperationException("wrapped", noSpace)));
        Assert.NotNull(sqliteDb.StorageFull(new AggregateException(new OperationCanceledException(), quota)));
        Assert.Null(sqliteDb.StorageFull(new SqliteException("constraint failed", 19)));
        Assert.Null(sqliteDb.StorageFull(new IOException("Input/output error", 5)));
        using var postgresDb = new PostgresDatabase("Host=127.0.0.1;Port=1;Username=nobody;Database=none");
        Assert.NotNull(postgresDb.StorageFull(postgres));
        Assert.Null(postgresDb.StorageFull(new Npgsql.PostgresException("duplicate key", "ERROR", "ERROR", "23505")));
    }

    private static async Task<long> AttemptsAsync(TestService service, string jobId)
    {
        var db = TestDatabases.Open(service.DataDir);
        try
        {
            await using var connection = await db.OpenAsync(CancellationToken.None);
            return await connection.ExecuteScalarAsync<long>("SELECT attempts FROM jobs WHERE id = @jobId", new { jobId });
        }
        finally
        {
            (db as IDisposable)?.Dispose();
        }
    }
}

/// <summary>A test of the SQLite file in the data folder itself: skipped when the tests run on PostgreSQL.</summary>
public sealed class SqliteOnSmallFileSystemFactAttribute : FactAttribute
{
    public SqliteOnSmallFileSystemFactAttribute()
    {
        if (SmallFileSystem.SkipReason is { } reason) Skip = reason;
        else if (TestDatabases.OnPostgres) Skip = "the database is PostgreSQL's, not on the small file system (the unit test covers 53100)";
    }
}
