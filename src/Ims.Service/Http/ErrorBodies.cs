using System.Text.Json;

namespace Ims.Service.Http;

/// <summary>
/// The one place that knows how each service shapes its error bodies. Clients parse these: IMS
/// <c>{"error":{"code","message"}}</c>, the API gateway <c>{"error_code","error_msg","request_id"}</c>, and so on.
/// </summary>
public static class ErrorBodies
{
    public static string BadRequestCode(ServiceKind service) => service switch
    {
        ServiceKind.Ims => "IMG.0001",
        ServiceKind.Ecs => "Ecs.0005",
        ServiceKind.Nova => NovaFault.BadRequest,
        ServiceKind.Evs => "EVS.2024",
        ServiceKind.Vpc or ServiceKind.VpcV3 => "VPC.0101", // "Param is invalid."; VPC.0002 is the empty-AZ error
        ServiceKind.Cbr => "BackupService.6301",
        ServiceKind.Csbs => "CSBS.9001",
        ServiceKind.Eps => "EPS.0002",
        ServiceKind.Iam => "400",
        _ => "APIGW.0201",
    };

    public static string NotFoundCode(ServiceKind service) => service switch
    {
        ServiceKind.Ims => "IMG.0027",
        ServiceKind.Ecs => "Ecs.0114",
        ServiceKind.Nova => NovaFault.NotFound,
        ServiceKind.Evs => "EVS.5404",
        ServiceKind.Vpc or ServiceKind.VpcV3 => "VPC.0003", // "VPC does not exist."; VPC.0202 is the subnet module's
        ServiceKind.Cbr => "BackupService.6302",
        // The CSBS error table documents no 404 code; this one is ours.
        ServiceKind.Csbs => "CSBS.9002",
        ServiceKind.Eps => "EPS.0005",
        ServiceKind.Iam => "404",
        _ => "APIGW.0101",
    };

    public static string ForbiddenCode(ServiceKind service) => service switch
    {
        ServiceKind.Ims => "IMG.0030",
        ServiceKind.Ecs => "Ecs.0003",
        ServiceKind.Nova => NovaFault.Forbidden,
        ServiceKind.Evs => "EVS.2003",
        ServiceKind.Vpc or ServiceKind.VpcV3 => "VPC.2701", // 403 "Token not allowed to do this action."; VPC.0003 is a 404
        ServiceKind.Cbr or ServiceKind.Csbs => "BackupService.6100",
        ServiceKind.Eps => "EPS.0004",
        ServiceKind.Iam => "403",
        _ => "APIGW.0302",
    };

    /// <summary>
    /// The code of "the storage ran out of space". IMS documents one capacity code, <c>IMG.0182</c> ("Insufficient vault
    /// capacity", 400), which mode A's job answers when a backup does not fit; the references document none for EVS, ECS
    /// or the others, and their bytes live in the same store, so every service answers it (see docs/architecture.md).
    /// </summary>
    public const string StorageFullCode = "IMG.0182";

    private static string Title(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        _ => "Error",
    };

    public static async Task WriteAsync(HttpContext http, ApiError error)
    {
        var requestId = RequestIds.Of(http);
        http.Response.StatusCode = error.Status;
        http.Response.ContentType = "application/json;charset=UTF-8";
        await using var writer = new Utf8JsonWriter(http.Response.BodyWriter.AsStream());
        writer.WriteStartObject();
        switch (error.Service)
        {
            case ServiceKind.Ims or ServiceKind.Ecs or ServiceKind.Evs:
                writer.WriteStartObject("error");
                writer.WriteString("code", error.Code);
                writer.WriteString("message", error.Message);
                writer.WriteEndObject();
                break;
            case ServiceKind.Iam:
                // Keystone's shape: the code is the HTTP status as a number.
                writer.WriteStartObject("error");
                writer.WriteNumber("code", error.Status);
                writer.WriteString("title", Title(error.Status));
                writer.WriteString("message", error.Message);
                writer.WriteEndObject();
                break;
            case ServiceKind.Nova:
                // Nova's fault: the fault's name (carried as the code) wraps the HTTP status as a number and the message.
                writer.WriteStartObject(error.Code);
                writer.WriteNumber("code", error.Status);
                writer.WriteString("message", error.Message);
                writer.WriteEndObject();
                break;
            case ServiceKind.Eps:
                // EPS nests the gateway-style pair under "error" (EPS API reference, "Error Codes").
                writer.WriteStartObject("error");
                writer.WriteString("error_code", error.Code);
                writer.WriteString("error_msg", error.Message);
                writer.WriteEndObject();
                break;
            case ServiceKind.Vpc:
                writer.WriteString("code", error.Code);
                writer.WriteString("message", error.Message);
                break;
            default: // Gateway, VpcV3, Cbr, Csbs, Admin
                writer.WriteString("error_code", error.Code);
                writer.WriteString("error_msg", error.Message);
                writer.WriteString("request_id", requestId);
                break;
        }
        writer.WriteEndObject();
        await writer.FlushAsync();
    }
}

/// <summary>The names of Nova's faults, which are the keys of its error bodies (<c>{"itemNotFound": {"code": 404, "message"}}</c>).</summary>
public static class NovaFault
{
    public const string BadRequest = "badRequest";
    public const string NotFound = "itemNotFound";
    public const string Forbidden = "forbidden";
    public const string Conflict = "conflict";
}
