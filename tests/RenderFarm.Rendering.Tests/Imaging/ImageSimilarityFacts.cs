using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

public class ImageSimilarityFacts
{
    private static float[] Pattern(int size, Func<int, int, float> value)
    {
        var pixels = new float[size * size];
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                pixels[(y * size) + x] = value(x, y);
            }
        }

        return pixels;
    }

    [Fact]
    public void Ssim_IsOneForIdenticalImages()
    {
        float[] image = Pattern(32, (x, y) => ((x / 4) + (y / 4)) % 2 * 0.8f);

        Assert.Equal(1.0, ImageSimilarity.Ssim(image, image, 32), 6);
    }

    [Fact]
    public void Ssim_StaysHighUnderMildNoiseAndDropsForDifferentStructure()
    {
        var random = new Random(5);
        float[] image = Pattern(32, (x, y) => ((x / 8) + (y / 8)) % 2 * 0.8f);
        float[] noisy = image.Select(v => v + ((float)random.NextDouble() - 0.5f) * 0.02f).ToArray();
        float[] mirrored = Pattern(32, (x, y) => image[(y * 32) + (31 - x)]);
        float[] flatGrey = Pattern(32, (_, _) => 0.4f);

        double withNoise = ImageSimilarity.Ssim(image, noisy, 32);
        double withMirror = ImageSimilarity.Ssim(image, mirrored, 32);
        double withGrey = ImageSimilarity.Ssim(image, flatGrey, 32);
        Assert.True(withNoise > 0.9, $"noise: {withNoise}");
        Assert.True(withMirror < 0.2, $"mirrored: {withMirror}");
        Assert.True(withGrey < 0.5, $"flat grey: {withGrey}");
    }

    [Fact]
    public void Ssim_RejectsImagesOfDifferentSizes()
    {
        Assert.Throws<ArgumentException>(() => ImageSimilarity.Ssim(new float[64], new float[32], 8));
    }
}
