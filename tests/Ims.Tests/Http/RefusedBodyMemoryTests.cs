using System.Net.Http.Headers;
using Ims.Tests.Infrastructure;

namespace Ims.Tests.Http;

/// <summary>Runs alone: it counts the bytes the whole test process allocates, which parallel tests would add to.</summary>
[CollectionDefinition(nameof(AllocationCountingCollection), DisableParallelization = true)]
public sealed class AllocationCountingCollection;

/// <summary>
/// Requests refused for their signature must not cost their body's size in memory: 10,000 such requests on 8
/// connections once grew the service from 137 MB to 691 MB, because each body was read into a fresh array of its full
/// size before the signature was checked.
/// </summary>
[Collection(nameof(AllocationCountingCollection))]
public sealed class RefusedBodyMemoryTests
{
    [Fact]
    public async Task Wrongly_signed_large_bodies_are_refused_without_being_copied_whole()
    {
        await using var service = await TestService.StartAsync();
        var alice = TestAccounts.Alice;
        var body = new byte[11 * 1024 * 1024];
        Array.Fill(body, (byte)' ');
        body[0] = (byte)'{';
        body[^1] = (byte)'}';
        using var http = new HttpClient();
        const int Requests = 20;

        async Task SendAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(service.BaseAddress, "/v1/cloudimages/wholeimages/action"))
            {
                Content = new ByteArrayContent(body),
            };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
            request.Headers.TryAddWithoutValidation("X-Project-Id", alice.ProjectId);
            ClientSigner.Sign(request, body, alice.AccessKey, "not-" + alice.SecretKey, DateTime.UtcNow);
            using var response = await http.SendAsync(request);
            Assert.Equal(401, (int)response.StatusCode);
        }

        await SendAsync(); // connections, pools and code paths warmed up
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < Requests; i++) await SendAsync();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // Copying each body whole would allocate at least Requests x 11 MiB (220 MiB); pooled pieces allocate a little.
        Assert.True(allocated < Requests * body.Length / 4,
            $"{Requests} refused {body.Length / 1024 / 1024} MiB bodies allocated {allocated / 1024 / 1024} MiB in the process");
    }
}
