using System.Text;
using Ims.Service.Http;

namespace Ims.Service.Ims;

/// <summary>
/// The Glance schemas IMS documents (<c>GET /v2/schemas/image</c>, <c>/images</c>, <c>/member</c>, <c>/members</c>). The
/// <c>glance</c> CLI reads the image schema before every command and validates each image it changes against it
/// (warlock), so the schema describes the records this service writes (<see cref="ImageWire"/>): every attribute with
/// the JSON type it has on the wire, the formats and statuses it uses, strings for everything else.
/// </summary>
public static class ImageSchemaEndpoints
{
    private const string Uuid = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

    /// <summary>The image's attributes. Those the service sets are marked READ-ONLY, as Glance marks them.</summary>
    private const string ImageProperties = $$$"""
        {
          "id": {"type": "string", "pattern": "{{{Uuid}}}", "description": "An identifier for the image"},
          "name": {"type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"},
          "status": {"type": "string", "readOnly": true, "enum": ["queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated", "uploading", "importing"], "description": "Status of the image (READ-ONLY)"},
          "visibility": {"type": "string", "enum": ["public", "private", "shared", "community"], "description": "Scope of image accessibility"},
          "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
          "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
          "container_format": {"type": ["null", "string"], "enum": [null, "bare", "ovf", "ova", "ami", "ari", "aki", "docker", "compressed"], "description": "Format of the container"},
          "disk_format": {"type": ["null", "string"], "enum": [null, "zvhd2", "zvhd", "vhd", "vhdx", "raw", "qcow2", "qcow", "vmdk", "qed", "vdi", "iso", "ami", "ari", "aki", "ploop"], "description": "Format of the disk"},
          "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
          "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
          "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes (READ-ONLY)"},
          "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes (READ-ONLY)"},
          "checksum": {"type": ["null", "string"], "readOnly": true, "maxLength": 32, "description": "md5 hash of image contents. (READ-ONLY)"},
          "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}, "description": "List of strings related to the image"},
          "created_at": {"type": "string", "readOnly": true, "description": "Date and time of image registration (READ-ONLY)"},
          "updated_at": {"type": "string", "readOnly": true, "description": "Date and time of the last image modification (READ-ONLY)"},
          "self": {"type": "string", "readOnly": true, "description": "(READ-ONLY)"},
          "file": {"type": "string", "readOnly": true, "description": "(READ-ONLY)"},
          "schema": {"type": "string", "readOnly": true, "description": "(READ-ONLY)"},
          "__system_support_market": {"type": "boolean", "readOnly": true, "description": "Whether the image is a Marketplace image (READ-ONLY)"},
          "locations": {"type": "array", "items": {"type": "object", "required": ["url", "metadata"], "properties": {"url": {"type": "string", "maxLength": 255}, "metadata": {"type": "object"} } }, "description": "A set of URLs to access the image file kept in external store"},
          "direct_url": {"type": "string", "readOnly": true, "description": "URL to access the image file kept in external store (READ-ONLY)"},
          "kernel_id": {"type": ["null", "string"], "pattern": "{{{Uuid}}}", "is_base": false, "description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."},
          "ramdisk_id": {"type": ["null", "string"], "pattern": "{{{Uuid}}}", "is_base": false, "description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."},
          "instance_uuid": {"type": "string", "is_base": false, "description": "ID of instance used to create this image."},
          "architecture": {"type": "string", "is_base": false, "description": "Operating system architecture"},
          "os_distro": {"type": "string", "is_base": false, "description": "Common name of operating system distribution"},
          "os_version": {"type": "string", "is_base": false, "description": "Operating system version as specified by the distributor"}
        }
        """;

    private const string MemberProperties = $$$"""
        {
          "status": {"type": "string", "enum": ["pending", "accepted", "rejected"], "description": "The status of this image member"},
          "created_at": {"type": "string", "description": "Date and time of image member creation"},
          "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
          "image_id": {"type": "string", "pattern": "{{{Uuid}}}", "description": "An identifier for the image"},
          "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
          "schema": {"type": "string", "readOnly": true}
        }
        """;

    private const string ImageLinks = """
        [{"href": "{self}", "rel": "self"}, {"href": "{file}", "rel": "enclosure"}, {"href": "{schema}", "rel": "describedby"}]
        """;

    private static readonly byte[] Image = Encoding.UTF8.GetBytes($$$"""
        {"additionalProperties": {"type": "string"}, "name": "image", "links": {{{ImageLinks}}}, "properties": {{{ImageProperties}}}}
        """);

    private static readonly byte[] Images = Encoding.UTF8.GetBytes($$$"""
        {
          "name": "images",
          "links": [{"href": "{first}", "rel": "first"}, {"href": "{next}", "rel": "next"}, {"href": "{schema}", "rel": "describedby"}],
          "properties": {
            "images": {"type": "array", "items": {"additionalProperties": {"type": "string"}, "name": "image", "links": {{{ImageLinks}}}, "properties": {{{ImageProperties}}}}},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"}
          }
        }
        """);

    private static readonly byte[] Member = Encoding.UTF8.GetBytes($$$"""
        {"name": "member", "properties": {{{MemberProperties}}}}
        """);

    private static readonly byte[] Members = Encoding.UTF8.GetBytes($$$"""
        {
          "name": "members",
          "links": [{"href": "{schema}", "rel": "describedby"}],
          "properties": {
            "members": {"type": "array", "items": {"name": "member", "properties": {{{MemberProperties}}}}},
            "schema": {"type": "string"}
          }
        }
        """);

    public static IEndpointRouteBuilder MapImageSchemas(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v2/schemas").ForService(ServiceKind.Ims);
        group.MapGet("/image", () => Json(Image));
        group.MapGet("/images", () => Json(Images));
        group.MapGet("/member", () => Json(Member));
        group.MapGet("/members", () => Json(Members));
        return app;
    }

    private static IResult Json(byte[] body) => TypedResults.Bytes(body, "application/json;charset=UTF-8");
}
