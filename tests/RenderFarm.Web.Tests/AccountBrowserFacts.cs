using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Nethereum.Signer;
using static Microsoft.Playwright.Assertions;

namespace RenderFarm.Web.Tests;

/// <summary>
/// Accounts in the web app, against a <see cref="WebFarm"/>: signing in by key or link, what another account cannot
/// see or do, and every control labelled and reachable by keyboard.
/// </summary>
[Trait("Category", "Gpu")]
[Trait("Category", "Browser")]
[Collection(WebFarmCollection.Name)]
public sealed class AccountBrowserFacts(WebFarm farm)
{
    [Fact]
    public async Task Another_account_gets_404_for_a_job_its_frames_and_its_timeline()
    {
        string jobId = await farm.SubmitThroughApiAsync(farm.ArtistApiKey);
        IPage page = await farm.SignInAsync(farm.OtherApiKey);

        // Guards the web app's authorization: the same answer as the API's for another account's job (404, nothing shown).
        foreach (string path in new[] { $"/jobs/{jobId}", $"/jobs/{jobId}/tasks/0", $"/jobs/{jobId}/frames/1", $"/jobs/{jobId}/thumbs/1", $"/jobs/{jobId}/frames.zip" })
        {
            IAPIResponse response = await page.Context.APIRequest.GetAsync(path);
            Assert.True(response.Status == 404, $"{path} answered {response.Status}");
            Assert.DoesNotContain("cornell-box", await response.TextAsync(), StringComparison.Ordinal);
        }

        IResponse? denied = await page.GotoAsync($"/jobs/{jobId}");
        Assert.Equal(404, denied!.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not found" })).ToBeVisibleAsync();
        await WebFarm.ScreenshotAsync(page, "other-account-404");
        await page.GotoAsync("/jobs");
        await Expect(page.GetByText("No jobs yet.")).ToBeVisibleAsync();

        // A cancel posted without the session's form token is refused, and one for another's job is a 404.
        IAPIResponse forged = await page.Context.APIRequest.PostAsync($"/jobs/{jobId}/cancel", new() { Form = FormOf(page, ("form_token", "nope")) });
        Assert.Equal(403, forged.Status);
        IAPIResponse forgedPause = await page.Context.APIRequest.PostAsync($"/jobs/{jobId}/pause", new() { Form = FormOf(page, ("form_token", "nope")) });
        Assert.Equal(403, forgedPause.Status);

        // Signed out, pages send the visitor to the sign-in page.
        IPage anonymous = await farm.NewPageAsync();
        await anonymous.GotoAsync($"/jobs/{jobId}");
        Assert.EndsWith($"/signin?next=%2Fjobs%2F{jobId}", anonymous.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_account_signs_in_by_signing_the_challenge_with_its_key()
    {
        var key = EthECKey.GenerateKey();
        IPage page = await farm.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.GetByLabel("Account address").FillAsync(key.GetPublicAddress());
        await page.GetByRole(AriaRole.Button, new() { Name = "Get a message to sign" }).ClickAsync();
        string challenge = await page.GetByLabel("Message to sign").InputValueAsync();
        Assert.StartsWith("Sign in to the RenderFarm coordinator as a client.", challenge, StringComparison.Ordinal);
        await WebFarm.ScreenshotAsync(page, "signin-challenge");

        // A signature by another key is refused with the API's reason.
        await page.GetByLabel("Signature").FillAsync(new EthereumMessageSigner().EncodeUTF8AndSign(challenge, EthECKey.GenerateKey()));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("The signature was not made by the address's key.");

        await page.GetByLabel("Signature").FillAsync(new EthereumMessageSigner().EncodeUTF8AndSign(challenge, key));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/jobs");
        await Expect(page.Locator("header .who")).ToContainTextAsync($"Signed in as {key.GetPublicAddress()[..6]}…");
    }

    [Fact]
    public async Task A_sign_in_link_with_the_key_in_its_fragment_signs_in()
    {
        // The link `renderfarm render` prints for its embedded farm.
        IPage page = await farm.NewPageAsync();
        await page.GotoAsync($"/signin#key={farm.OtherApiKey}");
        await page.WaitForURLAsync("**/jobs");
        await Expect(page.Locator("header .who")).ToContainTextAsync($"Signed in as {farm.Other.GetPublicAddress()[..6]}…");
    }

    [Fact]
    public async Task Every_control_is_labelled_and_reachable_by_keyboard()
    {
        IPage page = await farm.NewPageAsync();
        await page.GotoAsync("/signin");
        await ExpectLabelledAndReachableAsync(page, "signin");

        page = await farm.SignInAsync(farm.ArtistApiKey);
        await ExpectLabelledAndReachableAsync(page, null);
        await page.GotoAsync("/submit");
        await ExpectLabelledAndReachableAsync(page, null);

        // A job's page (with its pause, resume and cancel buttons), a task's page, the providers and a provider's page.
        string jobId = await farm.SubmitThroughApiAsync(farm.ArtistApiKey, "1-40");
        using (HttpClient client = farm.ApiClient(farm.ArtistApiKey))
        {
            using HttpResponseMessage paused = await client.PostAsync($"api/jobs/{jobId}/pause", null);
            paused.EnsureSuccessStatusCode();
        }

        await page.GotoAsync($"/jobs/{jobId}");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Resume", Exact = true })).ToBeVisibleAsync();
        await ExpectLabelledAndReachableAsync(page, null);
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel the job" }).ClickAsync();
        await Expect(page.Locator(".facts .state")).ToHaveTextAsync("cancelled");
        await page.GotoAsync($"/jobs/{jobId}/tasks/0");
        await ExpectLabelledAndReachableAsync(page, null);
        await page.GotoAsync("/providers");
        await Expect(page.GetByRole(AriaRole.Table, new() { NameRegex = new Regex("^Providers") }).GetByRole(AriaRole.Link).First).ToBeVisibleAsync();
        await ExpectLabelledAndReachableAsync(page, null);
        await page.GotoAsync($"/providers/{farm.Providers[0]}");
        await ExpectLabelledAndReachableAsync(page, null);
    }

    // Every visible control has an accessible name, and Tab reaches each one (no focus trap, no mouse-only control).
    private static async Task ExpectLabelledAndReachableAsync(IPage page, string? screenshot)
    {
        ILocator controls = page.Locator("main input:not([type=hidden]):visible, main button:visible, main textarea:visible, main select:visible, main a[href]:visible, header button:visible, header a[href]:visible");
        int count = await controls.CountAsync();
        Assert.True(count > 0, $"{page.Url} has no controls to check.");
        var expected = new List<string>();
        for (int i = 0; i < count; i++)
        {
            ILocator control = controls.Nth(i);
            await Expect(control).ToHaveAccessibleNameAsync(new Regex(@"\S"));
            expected.Add(await control.EvaluateAsync<string>("e => e.outerHTML"));
        }

        var reached = new HashSet<string>(StringComparer.Ordinal);
        await page.Locator("body").FocusAsync();
        // Room for links a live page adds meanwhile (a frame verified while the keys are pressed).
        for (int i = 0; i < (count * 2) + 5; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            reached.Add(await page.EvaluateAsync<string>("() => document.activeElement ? document.activeElement.outerHTML : ''"));
        }

        Assert.All(expected, html => Assert.Contains(html, reached));
        if (screenshot is not null)
        {
            await WebFarm.ScreenshotAsync(page, screenshot);
        }
    }

    private static IFormData FormOf(IPage page, params (string Name, string Value)[] fields)
    {
        IFormData form = page.Context.APIRequest.CreateFormData();
        foreach ((string name, string value) in fields)
        {
            form.Set(name, value);
        }

        return form;
    }
}
