using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>One operation of a PATCH body: <c>add</c>, <c>replace</c> or <c>remove</c> of one attribute.</summary>
public sealed record PatchOperation(string Op, string Attribute, JsonElement? Value);

/// <summary>The attributes of an image that a PATCH may change, as they stand before and after it.</summary>
public sealed record PatchedImage
{
    public required string Name { get; init; }
    /// <summary>Empty: the image has no <c>__description</c>.</summary>
    public required string Description { get; init; }
    public required long MinRam { get; init; }
    /// <summary>Null: the image has no <c>max_ram</c>.</summary>
    public required long? MaxRam { get; init; }
    public required long MinDisk { get; init; }
    public required string OsVersion { get; init; }
    public required string EnterpriseProjectId { get; init; }
    public required IReadOnlyDictionary<string, string> Properties { get; init; }

    public static PatchedImage Of(ImageRow image)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var doc = JsonDocument.Parse(image.Properties))
        {
            foreach (var p in doc.RootElement.EnumerateObject())
                properties[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        }
        return new PatchedImage
        {
            Name = image.Name,
            Description = image.Description,
            MinRam = image.MinRam,
            MaxRam = image.MaxRam,
            MinDisk = image.MinDisk,
            OsVersion = image.OsVersion,
            EnterpriseProjectId = image.EnterpriseProjectId,
            Properties = properties,
        };
    }

    public string PropertiesJson() => JsonSerializer.Serialize(Properties);
}

/// <summary>
/// <c>PATCH /v2/cloudimages/{id}</c> and <c>PATCH /v2/images/{id}</c> (spec §4.2, §4.3): the two JSON-Patch dialects,
/// which attributes may change, and the value rules (the same as for creating an image). Pure, so each rule is
/// unit-tested with its code; the endpoint only loads and stores the image.
/// </summary>
public static partial class ImagePatch
{
    public const string JsonPatchV20 = "application/openstack-images-v2.0-json-patch";
    public const string JsonPatchV21 = "application/openstack-images-v2.1-json-patch";

    private const int MaxPropertyLength = 255;

    /// <summary>
    /// Attributes no PATCH may touch (spec §4.3 DECISION, §7 Q20): identity, state, what the image was made from and
    /// what the service derives. Changing one is an attribute conflict, <c>IMG.0035</c>.
    /// </summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "id", "status", "owner", "visibility", "protected", "checksum", "size", "virtual_size", "tags", "self", "file",
        "schema", "created_at", "updated_at", "active_at", "deleted", "deleted_at", "disk_format", "container_format",
        "virtual_env_type", "__whole_image", "__backup_id", "__imagetype", "__isregistered", "__image_source_type",
        "__os_type", "__os_bit", "__platform", "__image_size", "__data_origin", "__root_origin", "__originalimagename",
        "__system__cmkid", "__system_support_market", "__lazyloading", "__productcode", "__account_code",
        "__sequence_num", "__is_offshelved", "__image_location", "__image_displayname", "__quick_import",
        "__sys_cmkid", "__os_feature_list",
    };

    /// <summary>Reads the body in the dialect its Content-Type names.</summary>
    public static (IReadOnlyList<PatchOperation>? Operations, ApiError? Error) Parse(ReadOnlySpan<byte> body, string? contentType)
    {
        var mediaType = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        bool v20;
        switch (mediaType)
        {
            case JsonPatchV20: v20 = true; break;
            case "" or "application/json" or JsonPatchV21: v20 = false; break;
            default:
                return (null, ImsErrors.Of("IMG.0001",
                    $"Unsupported Content-Type '{contentType}': use application/json, {JsonPatchV21} or {JsonPatchV20}.",
                    StatusCodes.Status415UnsupportedMediaType));
        }
        if (body.Trim(" \t\r\n"u8).IsEmpty) return (null, ImsErrors.Of("IMG.0007"));
        if (!JsonBody.IsWellFormedText(body)) return Invalid(JsonBody.MalformedText);

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException)
        {
            return Invalid("The request body is not valid JSON.");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array) return Invalid("The request body must be a JSON array of operations.");
            var operations = new List<PatchOperation>();
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object) return Invalid("Each operation must be a JSON object.");
                string? op = null, path = null;
                if (v20)
                {
                    foreach (var name in (string[])["add", "replace", "remove"])
                    {
                        if (!item.TryGetProperty(name, out var p)) continue;
                        if (op is not null) return Invalid("An operation names more than one of add, replace and remove.");
                        op = name;
                        path = p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                    }
                    if (op is null) return Invalid("Each operation needs add, replace or remove.");
                }
                else
                {
                    op = item.TryGetProperty("op", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                    if (op is not ("add" or "replace" or "remove")) return Invalid("op must be add, replace or remove.");
                    path = item.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                }
                if (path is null || path.Length < 2 || path[0] != '/' || path.IndexOf('/', 1) >= 0)
                    return Invalid("path must be a slash followed by one attribute name, such as /name.");
                JsonElement? value = item.TryGetProperty("value", out var v) ? v.Clone() : null;
                if (op != "remove" && value is null) return Invalid($"{op} needs a value.");
                operations.Add(new PatchOperation(op, path[1..], value));
            }
            return (operations, null);
        }
    }

    /// <summary>Applies the operations in order to the image's attributes; all or nothing.</summary>
    public static (PatchedImage? Image, ApiError? Error) Apply(PatchedImage image, IReadOnlyList<PatchOperation> operations, bool chineseNames)
    {
        var properties = new Dictionary<string, string>(image.Properties, StringComparer.Ordinal);
        var current = image;
        foreach (var operation in operations)
        {
            var (next, error) = ApplyOne(current, properties, operation, chineseNames);
            if (error is not null) return (null, error);
            current = next!;
        }
        var memory = WholeImageRules.MemoryError(current.MinRam, current.MaxRam);
        if (memory is not null) return (null, ImsErrors.Of(memory, "min_ram cannot exceed max_ram."));
        return (current with { Properties = properties }, null);
    }

    private static (PatchedImage?, ApiError?) ApplyOne(PatchedImage image, Dictionary<string, string> properties,
        PatchOperation operation, bool chineseNames)
    {
        var (op, attribute, value) = operation;
        if (Reserved.Contains(attribute)) return Fail("IMG.0035", $"The attribute {attribute} cannot be modified.");

        var exists = attribute switch
        {
            "name" or "min_ram" or "min_disk" or "__os_version" or "enterprise_project_id" => true,
            "__description" => image.Description.Length > 0,
            "max_ram" => image.MaxRam is not null,
            _ => properties.ContainsKey(attribute),
        };
        if (op != "add" && !exists) return Fail("IMG.0035", $"The image has no attribute {attribute} to {op}; use add.");

        switch (attribute)
        {
            case "name":
                if (op == "remove") return CannotRemove(attribute);
                if (AsString(value) is not { } name) return Fail("IMG.0003", "name must be a string.");
                return WholeImageRules.NameError(name, chineseNames) is { } nameError ? Fail(nameError) : (image with { Name = name }, null);
            case "__description":
                if (op == "remove") return (image with { Description = "" }, null);
                if (AsString(value) is not { } description) return Fail("IMG.0054", "__description must be a string.");
                return WholeImageRules.DescriptionError(description) is { } descriptionError
                    ? Fail(descriptionError)
                    : (image with { Description = description }, null);
            case "min_ram":
                if (op == "remove") return CannotRemove(attribute);
                return AsMegabytes(value) is { } minRam ? (image with { MinRam = minRam }, null) : Fail("IMG.0055", "min_ram must be a whole number of MB.");
            case "max_ram":
                if (op == "remove") return (image with { MaxRam = null }, null);
                // 0 means "no maximum", as on create: the attribute goes away.
                return AsMegabytes(value) is { } maxRam ? (image with { MaxRam = maxRam == 0 ? null : maxRam }, null) : Fail("IMG.0055", "max_ram must be a whole number of MB.");
            case "min_disk":
                if (op == "remove") return CannotRemove(attribute);
                return AsMegabytes(value) is { } minDisk and >= 1 and <= 1024
                    ? (image with { MinDisk = minDisk }, null)
                    : Fail("IMG.0055", "min_disk must be a whole number of GB from 1 to 1024.");
            case "__os_version":
                if (op == "remove") return CannotRemove(attribute);
                return AsString(value) is { Length: > 0 and <= MaxPropertyLength } osVersion ? (image with { OsVersion = osVersion }, null) : Fail("IMG.0056");
            case "enterprise_project_id":
                if (op == "remove") return CannotRemove(attribute);
                return AsString(value) is { } eps && WholeImageRules.IsEnterpriseProjectId(eps)
                    ? (image with { EnterpriseProjectId = eps }, null)
                    : Fail("IMG.0155", "enterprise_project_id must be 0 or an enterprise project UUID.");
            default:
                if (!ExtensionName().IsMatch(attribute))
                    return Fail("IMG.0001", $"Attribute names are 1-{MaxPropertyLength} lowercase letters, digits, _, -, . and : ({attribute}).");
                if (op == "remove")
                {
                    properties.Remove(attribute);
                    return (image, null);
                }
                if (AsPropertyValue(value) is not { } text) return Fail("IMG.0001", $"{attribute} must be a string of at most {MaxPropertyLength} characters.");
                if (attribute == "hw_firmware_type" && text is not ("bios" or "uefi")) return Fail("IMG.0141");
                properties[attribute] = text;
                return (image, null);
        }
    }

    private static string? AsString(JsonElement? value) => value is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    /// <summary>Custom attributes are strings on the wire; a number or boolean is kept as its text.</summary>
    private static string? AsPropertyValue(JsonElement? value)
    {
        if (value is not { } v) return null;
        var text = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            _ => null,
        };
        return text is { Length: <= MaxPropertyLength } ? text : null;
    }

    /// <summary>A memory or disk size: a JSON number or a string of digits (terraform sends both), 0 to int32 max.</summary>
    private static long? AsMegabytes(JsonElement? value)
    {
        if (value is not { } v) return null;
        long parsed;
        switch (v.ValueKind)
        {
            case JsonValueKind.Number when v.TryGetInt64(out parsed): break;
            case JsonValueKind.String when long.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out parsed): break;
            default: return null;
        }
        return parsed is >= 0 and <= int.MaxValue ? parsed : null;
    }

    private static (PatchedImage?, ApiError?) CannotRemove(string attribute) => Fail("IMG.0035", $"The attribute {attribute} cannot be removed.");

    private static (PatchedImage?, ApiError?) Fail(string code, string? detail = null) => (null, ImsErrors.Of(code, detail));

    private static (IReadOnlyList<PatchOperation>?, ApiError?) Invalid(string detail) => (null, ImsErrors.Of("IMG.0001", detail));

    [GeneratedRegex(@"^[a-z0-9_][a-z0-9_.:-]{0,254}$")]
    private static partial Regex ExtensionName();
}
