using System.Text.Json;
using System.Text.RegularExpressions;

namespace Ims.Service.Ims;

/// <summary>
/// Image tags: how they are stored (a JSON array of <c>{"key","value"}</c> in insertion order on the image row) and
/// every rule of every family of tag API (spec §4.4, api-ref "Image Tag Format"). The one place tags are parsed and
/// validated: the create request, the v1 and v2 tag APIs, the native Glance tag APIs and PATCH of <c>/tags</c> all
/// come here.
/// <para>
/// The model: an image has one set of tags, at most one per key. A tag is a key with a value (the key/value APIs), or
/// a bare key (what Glance clients add: the native <c>PUT .../tags/{tag}</c>, a PATCH of <c>/tags</c>, an old-style tag
/// without a separator). Where tags are strings (the image's <c>tags</c>, <c>GET /v1/cloudimages/tags</c>, the <c>tag</c>
/// list filter) a tag with a value is <c>key=value</c> (<c>key=</c> when the value is empty) and a bare tag is
/// <c>key</c>, so a client reads back exactly the string it added; the key/value APIs show a bare tag with the value
/// <c>""</c>. A bare tag is stored with a JSON null value.
/// </para>
/// </summary>
public static partial class ImageTags
{
    /// <summary>A tag; <paramref name="Bare"/> marks a key added without a value (its <paramref name="Value"/> is "").</summary>
    public sealed record Tag(string Key, string Value, bool Bare = false);

    public static Tag BareTag(string key) => new(key, "", Bare: true);

    /// <summary>The tag as a string: <c>key=value</c>, or <c>key</c> for a bare tag.</summary>
    public static string Render(Tag tag) => tag.Bare ? tag.Key : $"{tag.Key}={tag.Value}";

    /// <summary>Reads a tag string as <see cref="Render"/> writes it: split at the first <c>=</c>, else a bare key.</summary>
    public static Tag FromString(string text)
    {
        var split = text.IndexOf('=', StringComparison.Ordinal);
        return split < 0 ? BareTag(text) : new Tag(text[..split], text[(split + 1)..]);
    }

    /// <summary>Tags an image may carry (<c>IMG.0116</c> beyond).</summary>
    public const int MaxPerImage = 10;

    public const int MaxKeyLength = 36;
    public const int MaxValueLength = 43;

    /// <summary>A native (Glance) tag is a key alone, up to 255 characters.</summary>
    public const int MaxNativeTagLength = 255;

    /// <summary>Batch deletion checks lengths only, and against looser limits (api-ref "Adding or Deleting Image Tags in a Batch").</summary>
    public const int MaxDeleteKeyLength = 127;
    public const int MaxDeleteValueLength = 255;

    public static IReadOnlyList<Tag> Parse(string json)
    {
        if (json is "[]" or "") return [];
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(t =>
            t.GetProperty("value").GetString() is { } value ? new Tag(t.GetProperty("key").GetString()!, value) : BareTag(t.GetProperty("key").GetString()!))];
    }

    public static string Serialize(IEnumerable<Tag> tags) =>
        JsonSerializer.Serialize(tags.Select(t => new StoredTag(t.Key, t.Bare ? null : t.Value)));

    /// <summary>Adds a tag, or replaces the value of the tag with the same key where it stands.</summary>
    public static void Upsert(List<Tag> tags, Tag tag)
    {
        var index = tags.FindIndex(t => t.Key == tag.Key);
        if (index >= 0) tags[index] = tag;
        else tags.Add(tag);
    }

    /// <summary>
    /// Old-style tag <c>key.value</c>, split at the first separator; <c>key=value</c> and a bare key (a bare tag) are
    /// accepted too (spec §1.3 DECISION). Key 1-36, value 0-43 characters of letters, digits, <c>_</c> and <c>-</c>.
    /// </summary>
    public static bool TryParseOldTag(string raw, out Tag tag)
    {
        tag = new Tag("", "");
        var split = raw.IndexOfAny(['.', '=']);
        var key = split < 0 ? raw : raw[..split];
        var value = split < 0 ? "" : raw[(split + 1)..];
        if (key.Length is 0 or > MaxKeyLength || value.Length > MaxValueLength || !OldTagChars().IsMatch(key)
            || !(value.Length == 0 || OldTagChars().IsMatch(value)))
            return false;
        tag = split < 0 ? BareTag(key) : new Tag(key, value);
        return true;
    }

    /// <summary>
    /// A tag string of a Glance client (a PATCH of <c>/tags</c>): <c>key=value</c> by the key/value rules of
    /// <see cref="TryNormalize"/>, or a bare key by the rules of <see cref="IsValidNativeTag"/>.
    /// </summary>
    public static bool TryParseString(string text, out Tag tag)
    {
        tag = FromString(text);
        if (tag.Bare) return IsValidNativeTag(tag.Key);
        return TryNormalize(tag.Key, tag.Value, out tag);
    }

    /// <summary>
    /// A key/value tag (<c>image_tags</c>, <c>POST .../tags</c>, <c>tags/action</c> create, <c>PUT /v1/cloudimages/tags</c>
    /// <c>image_tag</c>): both present, spaces at either end dropped, key 1-36 and value 0-43 characters, no control
    /// characters and no <c>=</c> in the key (it separates key and value in the image's <c>tags</c>; spec §7 Q16).
    /// </summary>
    public static bool TryNormalize(string? key, string? value, out Tag tag)
    {
        tag = new Tag("", "");
        if (key is null || value is null) return false;
        key = key.Trim();
        value = value.Trim();
        if (key.Length is 0 or > MaxKeyLength || value.Length > MaxValueLength || key.Contains('=', StringComparison.Ordinal)
            || key.Any(char.IsControl) || value.Any(char.IsControl))
            return false;
        tag = new Tag(key, value);
        return true;
    }

    /// <summary>A native tag: 1-255 letters, digits, <c>_</c> and <c>-</c> (so never <c>=</c>).</summary>
    public static bool IsValidNativeTag(string tag) => tag.Length is > 0 and <= MaxNativeTagLength && OldTagChars().IsMatch(tag);

    /// <summary>A tag named for deletion in a batch: no character check, key 1-127 and value (optional) 0-255.</summary>
    public static bool IsValidForDeletion(string? key, string? value) =>
        key is { Length: > 0 and <= MaxDeleteKeyLength } && key.Trim().Length > 0 && (value is null || value.Length <= MaxDeleteValueLength);

    private sealed record StoredTag(
        [property: System.Text.Json.Serialization.JsonPropertyName("key")] string Key,
        [property: System.Text.Json.Serialization.JsonPropertyName("value")] string? Value);

    [GeneratedRegex(@"^[A-Za-z0-9_-]+$")]
    private static partial Regex OldTagChars();
}
