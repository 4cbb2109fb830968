using System.Text.Json.Nodes;
using Ims.Tests.Backups;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Ims;

/// <summary>Whole-image calls as terraform and the SDKs make them.</summary>
public static class WholeImages
{
    public const string CreatePath = "/v1/cloudimages/wholeimages/action";

    /// <summary>Posts a create request and returns the job id (the answer must be 200 with a non-empty job_id).</summary>
    public static async Task<string> CreateAsync(ApiClient client, object body)
    {
        var response = (await client.PostAsync(CreatePath, body)).Expect(200);
        var jobId = (string?)response["job_id"];
        Assert.Matches("^[0-9a-f]{32}$", jobId);
        return jobId!;
    }

    /// <summary>Waits for the job to succeed and reads the image back as terraform does (GET /v2/cloudimages?id=).</summary>
    public static async Task<(JsonNode Job, JsonObject Image)> WaitForImageAsync(ApiClient client, string jobId)
    {
        var job = await client.WaitForJobSuccessAsync(jobId);
        var imageId = (string?)job["entities"]!["image_id"];
        Assert.False(string.IsNullOrEmpty(imageId));
        var images = (await client.GetAsync($"/v2/cloudimages?id={imageId}")).Expect(200)["images"].AsArray();
        return (job, Assert.IsType<JsonObject>(Assert.Single(images)));
    }

    /// <summary>A CBR backup of the server in a new vault; returns (vault id, backup id).</summary>
    public static async Task<(string VaultId, string BackupId)> CbrBackupAsync(ApiClient client, string serverId)
    {
        var (vaultId, checkpointId) = await Cbr.BackUpAsync(client, serverId);
        var backups = (await client.GetAsync($"/v3/{client.ProjectId}/backups?checkpoint_id={checkpointId}")).Expect(200)["backups"].AsArray();
        return (vaultId, (string)Assert.Single(backups)!["id"]!);
    }

    public static object FromCbr(string backupId, string? name = null) =>
        new { name = name ?? Servers.UniqueName("img"), backup_id = backupId, whole_image_type = "CBR" };
}
