using System.Text;
using System.Text.Json;
using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>
/// The IMS image as clients decode it (spec §3.1, contract §0): custom attributes are strings, except
/// <c>min_ram</c>/<c>min_disk</c>/<c>size</c> (numbers) and <c>protected</c>/<c>__system_support_market</c> (booleans);
/// <c>max_ram</c> is a string; timestamps end in Z with whole seconds; <c>tags</c> is an array of strings.
/// </summary>
public static class ImageWire
{
    /// <summary>The MD5 of nothing: IMS reports it for images whose checksum is "unavailable".</summary>
    private const string EmptyChecksum = "d41d8cd98f00b204e9800998ecf8427e";

    public static void Write(Utf8JsonWriter w, ImageRow image, string viewerProjectId)
    {
        w.WriteStartObject();
        w.WriteString("id", image.Id);
        w.WriteString("name", image.Name);
        w.WriteString("status", image.Status);
        w.WriteString("visibility", image.Visibility);
        w.WriteBoolean("protected", image.Protected);
        w.WriteString("owner", image.Owner);
        w.WriteString("container_format", image.ContainerFormat);
        w.WriteString("disk_format", image.DiskFormat);
        w.WriteNumber("min_disk", image.MinDisk);
        w.WriteNumber("min_ram", image.MinRam);
        if (image.MaxRam is { } maxRam) w.WriteString("max_ram", maxRam.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteNumber("size", image.Size);
        w.WriteNull("virtual_size");
        w.WriteString("checksum", EmptyChecksum);
        w.WriteStartArray("tags");
        foreach (var tag in ImageTags.Parse(image.Tags)) w.WriteStringValue($"{tag.Key}={tag.Value}");
        w.WriteEndArray();
        w.WriteString("self", $"/v2/images/{image.Id}");
        w.WriteString("file", $"/v2/images/{image.Id}/file");
        w.WriteString("schema", "/v2/schemas/image");
        w.WriteString("created_at", WireTime.Seconds(image.CreatedAt));
        w.WriteString("updated_at", WireTime.Seconds(image.UpdatedAt));
        if (image.ActiveAt is { } activeAt) w.WriteString("active_at", WireTime.Seconds(activeAt));
        w.WriteString("__whole_image", image.WholeImage ? "true" : "false");
        if (image.BackupId is not null) w.WriteString("__backup_id", image.BackupId);
        w.WriteString("__image_source_type", image.SourceType);
        w.WriteString("__imagetype", ImageTypeSeenBy(image, viewerProjectId));
        w.WriteString("__isregistered", image.Status == "active" ? "true" : "false");
        w.WriteString("__os_type", image.OsType);
        w.WriteString("__os_version", image.OsVersion);
        w.WriteString("__platform", image.Platform);
        w.WriteString("__os_bit", image.OsBit);
        if (image.Description.Length > 0) w.WriteString("__description", image.Description);
        w.WriteString("__image_size", image.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (image.DataOrigin is not null) w.WriteString("__data_origin", image.DataOrigin);
        w.WriteBoolean("__system_support_market", false);
        w.WriteString("virtual_env_type", "FusionCompute");
        w.WriteString("enterprise_project_id", image.EnterpriseProjectId);
        WriteProperties(w, image.Properties);
        w.WriteEndObject();
    }

    /// <summary>
    /// The stored attributes, each as a string: a string value as it is, anything else as its JSON text. Read with a
    /// forward-only reader because a list renders up to a thousand images.
    /// </summary>
    private static void WriteProperties(Utf8JsonWriter w, string json)
    {
        if (json is "{}" or "") return;
        var bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(bytes);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType == JsonTokenType.String)
            {
                w.WriteString(name, reader.GetString());
                continue;
            }
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            w.WriteString(name, Encoding.UTF8.GetString(bytes, start, (int)reader.BytesConsumed - start));
        }
    }

    /// <summary>An image shared with the viewer reads as <c>shared</c>; public ones as <c>gold</c>.</summary>
    private static string ImageTypeSeenBy(ImageRow image, string viewerProjectId) =>
        image.Visibility == "public" ? "gold" : image.Owner == viewerProjectId ? image.Imagetype : "shared";
}
