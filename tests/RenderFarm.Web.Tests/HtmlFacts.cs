using RenderFarm.Coordinator.Web;

namespace RenderFarm.Web.Tests;

/// <summary>Pages are built from encoded values only.</summary>
public sealed class HtmlFacts
{
    [Fact]
    public void Every_hole_is_encoded_unless_it_is_html_already()
    {
        // Guards the pages against markup in names and reasons that clients and providers choose.
        string name = "<script>alert(1)</script>\"'&";
        Html cell = Html.Of($"<td title=\"{name}\">{name}</td>");
        Assert.DoesNotContain("<script>", cell.Value, StringComparison.Ordinal);
        Assert.DoesNotContain("\"'&", cell.Value, StringComparison.Ordinal);
        Assert.StartsWith("<td title=\"&lt;script&gt;", cell.Value, StringComparison.Ordinal);

        Html row = Html.Of($"<tr>{cell}{new[] { cell, cell }}</tr>");
        Assert.Equal($"<tr>{cell.Value}{cell.Value}{cell.Value}</tr>", row.Value);
        Assert.Equal("<i>1.5</i>", Html.Of($"<i>{1.5}</i>").Value);
    }

    [Fact]
    public void Only_local_paths_are_followed_after_sign_in()
    {
        // Guards against an open redirect through the sign-in page's "next".
        Assert.Equal("/jobs/1", WebApp.SafeNext("/jobs/1"));
        Assert.Equal("/jobs", WebApp.SafeNext("//evil.example/"));
        Assert.Equal("/jobs", WebApp.SafeNext("/\\evil.example/"));
        Assert.Equal("/jobs", WebApp.SafeNext("https://evil.example/"));
        Assert.Equal("/jobs", WebApp.SafeNext(null));
    }
}
