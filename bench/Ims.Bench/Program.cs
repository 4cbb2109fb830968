using Ims.Bench;

return await BenchCommand.RunAsync(args);
