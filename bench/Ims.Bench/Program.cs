using Ims.Bench;
using Ims.Bench.Data;

// Without a command word the service benchmark runs, exactly as it always has; `data` is the data-plane benchmark.
return args switch
{
    ["data", .. var rest] => await DataBenchCommand.RunAsync(rest),
    [CaptureChild.Command, .. var rest] => await CaptureChild.RunAsync(rest),
    _ => await BenchCommand.RunAsync(args),
};
