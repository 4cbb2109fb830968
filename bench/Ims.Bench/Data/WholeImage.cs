using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ims.Bench.Data;

/// <summary>Whole-image creates (mode C) on one server's backups: each from a different backup of the same disks.</summary>
internal sealed record WholeImageResult(string Label, long DataDiskGb, long BytesWritten, string BytesNote, IReadOnlyList<double> CreateMs)
{
    public double MedianMs => CreateMs.Order().ElementAt(CreateMs.Count / 2);
    public double MaxMs => CreateMs.Max();
}

/// <summary>
/// The cost of a full-ECS image made from an existing backup, through the real service over HTTP: a server with a data
/// disk of the given size, the benchmark disk's bytes written into it through the data endpoint (where the service has
/// one), CBR checkpoints, then <c>POST /v1/cloudimages/wholeimages/action</c> on a backup, timed from the request until
/// the job reads SUCCESS, polling every millisecond.
/// </summary>
internal static class WholeImage
{
    public static async Task<IReadOnlyList<WholeImageResult>> MeasureAsync(ChildService service, BenchDisk disk,
        IReadOnlyList<(string Label, long DataDiskGb)> sizes, int repeats, Action<string> progress, CancellationToken ct)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 8 })
        {
            BaseAddress = service.BaseAddress,
            Timeout = TimeSpan.FromSeconds(120),
        };
        var token = await Api.IssueTokenAsync(http, ct);
        var api = new Api(http, token);
        var pid = api.ProjectId;

        var network = await Population.CreateNetworkAsync(api, "databench", ct);

        var results = new List<WholeImageResult>();
        foreach (var (label, gb) in sizes)
        {
            var serverId = await Population.CreateServerAsync(api, network, $"databench-ecs-{gb}", gb, ct);
            var server = (await api.GetAsync($"/v1/{pid}/cloudservers/{serverId}", ct))["server"]!;
            var dataVolume = server["os-extended-volumes:volumes_attached"]!.AsArray()
                .Select(v => v!)
                .First(v => (string?)v["bootIndex"] != "0");
            var volumeId = (string)dataVolume["id"]!;

            var (written, note) = await WriteDiskAsync(http, token, pid, volumeId, disk, ct);
            progress($"{label}: server {serverId}, data volume {volumeId}; {note}");

            var vault = await api.PostAsync($"/v3/{pid}/vaults", new
            {
                vault = new
                {
                    name = $"databench-vault-{gb}",
                    billing = new { object_type = "server", consistent_level = "crash_consistent", protect_type = "backup", size = 100_000, is_multi_az = false },
                    auto_expand = false,
                    auto_bind = false,
                    locked = false,
                    resources = new[] { new { type = "OS::Nova::Server", id = serverId, extra_info = new { } } },
                },
            }, 200, ct);
            var vaultId = (string)vault["vault"]!["id"]!;

            var backups = new List<string>();
            var checkpointTimes = new List<double>();
            // One backup more than measured: the first create of each size is a warm-up (JIT, connection, caches) and not timed.
            for (var round = 0; round <= repeats; round++)
            {
                var started = Stopwatch.GetTimestamp();
                var created = await api.PostAsync($"/v3/{pid}/checkpoints", new
                {
                    checkpoint = new { vault_id = vaultId, parameters = new { name = $"databench-cp-{gb}-{round}", incremental = round > 0 } },
                }, 200, ct);
                var checkpointId = (string)created["checkpoint"]!["id"]!;
                await Population.WaitCheckpointAsync(api, checkpointId, TimeSpan.FromMinutes(10), ct);
                checkpointTimes.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                var listed = await api.GetAsync($"/v3/{pid}/backups?checkpoint_id={checkpointId}", ct);
                backups.Add((string)listed["backups"]!.AsArray().Single()!["id"]!);
            }
            progress(string.Create(CultureInfo.InvariantCulture,
                $"{label}: {repeats + 1} checkpoints took {string.Join(", ", checkpointTimes.Select(t => $"{t:0}"))} ms"));

            var warmup = await TimeCreateAsync(http, token, pid, backups[0], $"databench-{gb}-warmup", ct);
            var times = new List<double>();
            foreach (var backupId in backups.Skip(1))
                times.Add(await TimeCreateAsync(http, token, pid, backupId, $"databench-{gb}-{times.Count + 1}", ct));
            var result = new WholeImageResult(label, gb, written, note, times);
            progress(string.Create(CultureInfo.InvariantCulture,
                $"{label}: whole image (mode C) until SUCCESS: warm-up {warmup:0.0} ms, then {string.Join(", ", times.Select(t => $"{t:0.0}"))} ms (median {result.MedianMs:0.0})"));
            results.Add(result);
        }
        return results;
    }

    /// <summary>
    /// The benchmark disk's data units (holes stay unwritten) through <c>PUT /data/v1/{project_id}/volumes/{id}/bytes</c>.
    /// A service without that endpoint answers the first write with 404; the disk then stays empty and the note says so.
    /// </summary>
    private static async Task<(long Written, string Note)> WriteDiskAsync(HttpClient http, string token, string pid, string volumeId,
        BenchDisk disk, CancellationToken ct)
    {
        var buffer = new byte[BenchDisk.Unit];
        long written = 0;
        var started = Stopwatch.GetTimestamp();
        foreach (var (extent, offset) in disk.DataUnits())
        {
            disk.FillUnit(extent, offset, buffer);
            using var request = new HttpRequestMessage(HttpMethod.Put, $"/data/v1/{pid}/volumes/{volumeId}/bytes?offset={offset}")
            {
                Content = new ByteArrayContent(buffer),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            request.Headers.TryAddWithoutValidation("X-Auth-Token", token);
            using var response = await http.SendAsync(request, ct);
            if (written == 0 && response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
            {
                var answer = await response.Content.ReadAsStringAsync(ct);
                return (0, $"NO BYTES WRITTEN: the service has no data endpoint (PUT answered {(int)response.StatusCode} {answer.Trim()}); the backups hold empty disks");
            }
            if (!response.IsSuccessStatusCode)
                throw new BenchFailure($"PUT bytes at {offset} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            written += buffer.Length;
        }
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return (written, string.Create(CultureInfo.InvariantCulture,
            $"{written / (double)BenchDisk.Unit:0} MiB of the benchmark disk written over HTTP in {seconds:0.0} s ({written / 1e6 / seconds:0} MB/s)"));
    }

    /// <summary>From sending the create to reading SUCCESS, polling the job every millisecond.</summary>
    private static async Task<double> TimeCreateAsync(HttpClient http, string token, string pid, string backupId, string name, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { name, backup_id = backupId, whole_image_type = "CBR" });
        var started = Stopwatch.GetTimestamp();
        using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/cloudimages/wholeimages/action") { Content = new ByteArrayContent(body) };
        create.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        create.Headers.TryAddWithoutValidation("X-Auth-Token", token);
        string jobId;
        using (var response = await http.SendAsync(create, ct))
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode != HttpStatusCode.OK) throw new BenchFailure($"Whole-image create answered {(int)response.StatusCode}: {text}");
            jobId = (string)JsonNode.Parse(text)!["job_id"]!;
        }
        var deadline = started + (long)(120 * Stopwatch.Frequency);
        while (true)
        {
            using var poll = new HttpRequestMessage(HttpMethod.Get, $"/v1/{pid}/jobs/{jobId}");
            poll.Headers.TryAddWithoutValidation("X-Auth-Token", token);
            using var response = await http.SendAsync(poll, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var status = (string?)JsonNode.Parse(text)!["status"];
            if (status == "SUCCESS") return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (status == "FAIL") throw new BenchFailure($"Whole-image job {jobId} failed: {text}");
            if (Stopwatch.GetTimestamp() > deadline) throw new BenchFailure($"Whole-image job {jobId} did not finish within 120 s.");
            await Task.Delay(1, ct);
        }
    }
}
