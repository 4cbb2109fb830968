using System.Globalization;
using Ims.Service.Http;

namespace Ims.Service.Ecs;

/// <summary>The catalog reads terraform's data sources use: availability zones and flavors.</summary>
public static class CatalogEndpoints
{
    public static IEndpointRouteBuilder MapEcsCatalog(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v2.1/{project_id}/os-availability-zone", ListZones).ForService(ServiceKind.Ecs);
        app.MapGet("/v1/{project_id}/cloudservers/flavors", ListFlavors).ForService(ServiceKind.Ecs);
        return app;
    }

    private static IResult ListZones(Catalog catalog) =>
        TypedResults.Json(new AvailabilityZonesBody(
            catalog.Zones.Select(z => new AvailabilityZoneBody(z, new ZoneStateBody(true), null)).ToList()));

    /// <summary>Every flavor is sold in every zone; an unknown zone is a request error.</summary>
    private static IResult ListFlavors(Catalog catalog, HttpContext http)
    {
        var zone = QueryArgs.String(http, "availability_zone");
        if (!string.IsNullOrEmpty(zone) && !catalog.IsZone(zone))
            return EcsErrors.Invalid($"Availability zone [{zone}] is invalid.");
        var zoneStatus = string.Join(",", catalog.Zones.Select(z => $"{z}(normal)"));
        var flavors = Catalog.Flavors.Select(f => new FlavorBody
        {
            Id = f.Id,
            Name = f.Id,
            Vcpus = f.Vcpus.ToString(CultureInfo.InvariantCulture),
            Ram = f.RamMb,
            ExtraSpecs = new Dictionary<string, string>
            {
                ["ecs:performancetype"] = f.PerformanceType,
                ["ecs:generation"] = f.Generation,
                ["ecs:virtualization_env_types"] = "CloudCompute",
                ["ecs:instance_architecture"] = "x86",
                ["resource_type"] = $"IOoptimized{f.Generation.ToUpperInvariant()}",
                ["cond:operation:status"] = "normal",
                ["cond:operation:az"] = zoneStatus,
                ["cond:storage"] = "scsi,localdisk",
                ["hw:numa_nodes"] = "1",
                ["quota:max_rate"] = (f.Vcpus * 1000).ToString(CultureInfo.InvariantCulture),
                ["quota:min_rate"] = (f.Vcpus * 200).ToString(CultureInfo.InvariantCulture),
                ["quota:max_pps"] = (f.Vcpus * 100000).ToString(CultureInfo.InvariantCulture),
            },
            AttachableQuantity = new AttachableQuantityBody(ServerDiskEndpoints.MaxDisks - 1, ServerDiskEndpoints.MaxDisks - 1,
                ServerDiskEndpoints.MaxDisks - 1),
        }).ToList();
        return TypedResults.Json(new FlavorListBody(flavors));
    }
}
