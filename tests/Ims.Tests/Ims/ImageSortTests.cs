using System.Text;
using Ims.Service.Ims;

namespace Ims.Tests.Ims;

/// <summary>The list merges two pages in memory; its order must be the database's (SQLite BINARY: UTF-8 bytes).</summary>
public sealed class ImageSortTests
{
    private static readonly string[] Texts =
    [
        "", "a", "ab", "b", "B", "Z", "é", "\uFFFD", "\uE000", "\U0001F600", "a\U0001F600", "a\uFFFD", "Ubuntu 18.04", "Ubuntu_18",
    ];

    [Fact]
    public void Text_compares_as_its_UTF8_bytes()
    {
        foreach (var x in Texts)
        {
            foreach (var y in Texts)
            {
                var expected = Math.Sign(Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y)));
                Assert.True(expected == Math.Sign(ImageQueries.CompareCodePoints(x, y)), $"'{x}' vs '{y}'");
            }
        }
    }

    [Fact]
    public void Ties_on_the_sort_column_are_broken_by_id_in_the_same_direction()
    {
        var a = Image("a", name: "same", created: 5);
        var b = Image("b", name: "same", created: 5);
        Assert.True(ImageQueries.CompareForSort(a, b, "name", descending: false) < 0);
        Assert.True(ImageQueries.CompareForSort(a, b, "name", descending: true) > 0);
        Assert.True(ImageQueries.CompareForSort(a, Image("0", name: "x", created: 4), "created_at", descending: true) < 0);
        Assert.True(ImageQueries.CompareForSort(Image("0", size: 10), Image("1", size: 9), "size", descending: false) > 0);
    }

    private static ImageRow Image(string id, string name = "n", long created = 0, long size = 0) => new()
    {
        Id = id, Owner = "p", Name = name, Status = "active", Visibility = "private", Imagetype = "private",
        CreatedAt = created, Size = size,
    };
}
