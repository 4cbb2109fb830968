namespace Ims.Service.Http;

/// <summary>Every response carries an <c>X-Request-Id</c>; the official SDKs put it in their exceptions.</summary>
public static class RequestIds
{
    private const string ItemKey = "ims.request-id";

    public static string Of(HttpContext http)
    {
        if (http.Items.TryGetValue(ItemKey, out var value) && value is string id) return id;
        id = Ids.NewHex32();
        http.Items[ItemKey] = id;
        return id;
    }

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        http.Response.Headers["X-Request-Id"] = Of(http);
        return next(http);
    });
}
