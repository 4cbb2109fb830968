using System.Text.Json;

namespace Ims.Service.Http;

/// <summary>Writes a JSON body straight to the response with a <see cref="Utf8JsonWriter"/> (hot read paths).</summary>
public sealed class JsonWriterResult(Action<Utf8JsonWriter> write, int status = StatusCodes.Status200OK) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = status;
        httpContext.Response.ContentType = "application/json;charset=UTF-8";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter.AsStream(),
            new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        write(writer);
        await writer.FlushAsync();
    }
}
