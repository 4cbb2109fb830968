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

    /// <summary>Writes one image. Names are UTF-8 literals, so the writer need not transcode them: a list writes about
    /// forty per image, up to a thousand images.</summary>
    public static void Write(Utf8JsonWriter w, ImageRow image, string viewerProjectId)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, image.Id);
        w.WriteString("name"u8, image.Name);
        w.WriteString("status"u8, image.Status);
        w.WriteString("visibility"u8, image.Visibility);
        w.WriteBoolean("protected"u8, image.Protected);
        w.WriteString("owner"u8, image.Owner);
        w.WriteString("container_format"u8, image.ContainerFormat);
        w.WriteString("disk_format"u8, image.DiskFormat);
        w.WriteNumber("min_disk"u8, image.MinDisk);
        w.WriteNumber("min_ram"u8, image.MinRam);
        if (image.MaxRam is { } maxRam) w.WriteString("max_ram"u8, maxRam.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteNumber("size"u8, image.Size);
        if (image.VirtualSize is { } virtualSize) w.WriteNumber("virtual_size"u8, virtualSize);
        else w.WriteNull("virtual_size"u8);
        w.WriteString("checksum"u8, image.Checksum ?? EmptyChecksum);
        w.WriteStartArray("tags"u8);
        foreach (var tag in ImageTags.Parse(image.Tags)) w.WriteStringValue(ImageTags.Render(tag));
        w.WriteEndArray();
        w.WriteString("self"u8, $"/v2/images/{image.Id}");
        w.WriteString("file"u8, $"/v2/images/{image.Id}/file");
        w.WriteString("schema"u8, "/v2/schemas/image");
        w.WriteString("created_at"u8, WireTime.Seconds(image.CreatedAt));
        w.WriteString("updated_at"u8, WireTime.Seconds(image.UpdatedAt));
        if (image.ActiveAt is { } activeAt) w.WriteString("active_at"u8, WireTime.Seconds(activeAt));
        w.WriteString("__whole_image"u8, image.WholeImage ? "true" : "false");
        if (image.BackupId is not null) w.WriteString("__backup_id"u8, image.BackupId);
        w.WriteString("__image_source_type"u8, image.SourceType);
        w.WriteString("__imagetype"u8, ImageTypeSeenBy(image, viewerProjectId));
        // A whole image is registered when its job succeeds; an image made by POST /v2/images is registered from the
        // start (the reference's create response says "true" while it is still queued).
        w.WriteString("__isregistered"u8, image.Status == "active" || !image.WholeImage ? "true" : "false");
        w.WriteString("__os_type"u8, image.OsType);
        w.WriteString("__os_version"u8, image.OsVersion);
        w.WriteString("__platform"u8, image.Platform);
        w.WriteString("__os_bit"u8, image.OsBit);
        if (image.Description.Length > 0) w.WriteString("__description"u8, image.Description);
        w.WriteString("__image_size"u8, image.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (image.DataOrigin is not null) w.WriteString("__data_origin"u8, image.DataOrigin);
        w.WriteBoolean("__system_support_market"u8, false);
        w.WriteString("virtual_env_type"u8, image.VirtualEnvType);
        w.WriteString("enterprise_project_id"u8, image.EnterpriseProjectId);
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
