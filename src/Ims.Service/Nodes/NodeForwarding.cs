using Ims.Service.Auth;
using Ims.Service.Evs;
using Ims.Service.Http;
using Microsoft.Extensions.Options;

namespace Ims.Service.Nodes;

/// <summary>
/// Sends a request about a volume to the node whose disk holds its bytes: an endpoint filter on the data endpoints. The
/// request is forwarded as it came (method, path, query, headers with the original Host, so a signature still holds,
/// body) and the answer returned as it is. A node that is down (no heartbeat for one lease) or does not answer gets a
/// 503 <c>Ims.0503</c> naming it, at once rather than after a hang.
/// </summary>
public sealed class NodeForwarding(VolumeStore volumes, NodeStore nodes, IHttpClientFactory clients, TimeProvider time,
    IOptions<NodeOptions> options)
{
    /// <summary>Marks a forwarded request: the receiving node serves it itself or refuses, never forwards it again.</summary>
    public const string ForwardedHeader = "X-Ims-Forwarded-By";

    public const string ClientName = "node-forwarding";

    public const string UnavailableCode = "Ims.0503";

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Connection", "Expect",
    };

    /// <summary>The endpoint filter: runs the handler here when the volume is this node's (or no node's), forwards it otherwise.</summary>
    public static ValueTask<object?> FilterAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.RequestServices.GetRequiredService<NodeForwarding>().RouteAsync(context, next);

    private async ValueTask<object?> RouteAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (http.Request.RouteValues["volume_id"] is not string volumeId || Caller.Of(http) is not { } caller) return await next(context);
        // Only the caller's own volumes: another project's volume is the handler's to refuse, as anywhere.
        var host = await volumes.GetNodeAsync(caller.ProjectId, volumeId, http.RequestAborted);
        if (host is null || host == options.Value.Name) return await next(context);
        return await ForwardAsync(http, host, volumeId);
    }

    private async Task<IResult> ForwardAsync(HttpContext http, string host, string volumeId)
    {
        var ct = http.RequestAborted;
        var lease = options.Value.Lease;
        if (http.Request.Headers.ContainsKey(ForwardedHeader))
            return Unavailable(host, volumeId, "it was forwarded here but this node is not it (the node names disagree)");
        var node = await nodes.GetAsync(host, ct);
        if (node is null) return Unavailable(host, volumeId, "it has never registered");
        var silentFor = time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(node.HeartbeatAt);
        if (silentFor > lease) return Unavailable(host, volumeId, $"its last heartbeat was {silentFor.TotalSeconds:0} s ago");

        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method),
            new Uri(new Uri(node.Url), http.Request.Path + http.Request.QueryString));
        foreach (var header in http.Request.Headers)
        {
            if (HopByHop.Contains(header.Key) || header.Key.Equals("Host", StringComparison.OrdinalIgnoreCase)
                || header.Key.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)) continue;
            request.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
        }
        request.Headers.Host = http.Request.Host.Value;
        request.Headers.TryAddWithoutValidation(ForwardedHeader, options.Value.Name);
        if (HttpMethods.IsPut(http.Request.Method) || HttpMethods.IsPost(http.Request.Method))
        {
            // Read whole (at most a few MiB on these endpoints; a signed request's body was read already, to check it).
            request.Content = new ReadOnlyMemoryContent(await JsonBody.RawAsync(http));
            foreach (var header in http.Request.Headers.Where(h => h.Key.StartsWith("Content-", StringComparison.OrdinalIgnoreCase)
                         && !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
                request.Content.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
        }

        HttpResponseMessage response;
        try
        {
            response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return Unavailable(host, volumeId, $"it does not answer at {node.Url} ({ex.Message.TrimEnd('.')})");
        }
        return new Relayed(response);
    }

    private static ApiError Unavailable(string node, string volumeId, string why) =>
        new(ServiceKind.Evs, StatusCodes.Status503ServiceUnavailable, UnavailableCode,
            $"The bytes of volume {volumeId} are on node {node}, which is unavailable: {why}.");

    /// <summary>The other node's answer, passed on as it is.</summary>
    private sealed class Relayed(HttpResponseMessage response) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            using (response)
            {
                http.Response.StatusCode = (int)response.StatusCode;
                foreach (var header in response.Headers.Concat(response.Content.Headers))
                {
                    if (HopByHop.Contains(header.Key)) continue;
                    http.Response.Headers[header.Key] = header.Value.ToArray();
                }
                await response.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
            }
        }
    }
}
