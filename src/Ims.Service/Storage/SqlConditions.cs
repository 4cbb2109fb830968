using Dapper;

namespace Ims.Service.Storage;

/// <summary>A <c>WHERE</c> clause of <c>AND</c>ed conditions and the parameters they name, for stores' filtered lists.</summary>
internal sealed class SqlConditions(string first, object args)
{
    private readonly List<string> _conditions = [first];

    public DynamicParameters Args { get; } = new(args);

    /// <summary>Adds <c>column = @column</c> when <paramref name="value"/> is given (null or empty: no filter).</summary>
    public void Equal(string column, string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        _conditions.Add($"{column} = @{column}");
        Args.Add(column, value);
    }

    /// <summary>Adds a condition, with the parameter it names.</summary>
    public void Add(string condition, string? name = null, object? value = null)
    {
        _conditions.Add(condition);
        if (name is not null) Args.Add(name, value);
    }

    public override string ToString() => string.Join(" AND ", _conditions);
}
