using Ims.Bench;
using Ims.Bench.Data;
using Ims.Bench.Malformed;

// Without a command word the service benchmark runs, exactly as it always has; `data` is the data-plane benchmark, `malformed` the memory under malformed requests.
return args switch
{
    ["data", .. var rest] => await DataBenchCommand.RunAsync(rest),
    ["malformed", .. var rest] => await MalformedBenchCommand.RunAsync(rest),
    [CaptureChild.Command, .. var rest] => await CaptureChild.RunAsync(rest),
    _ => await BenchCommand.RunAsync(args),
};
