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
        float[] noisy = image.Select(v => v + ((float)random.NextDouble() - 0.5f) * 0.05f).ToArray();
        float[] mirrored = Pattern(32, (x, y) => image[(y * 32) + (31 - x)]);
        float[] blank = new float[32 * 32];

        Assert.True(ImageSimilarity.Ssim(image, noisy, 32) > 0.9);
        Assert.True(ImageSimilarity.Ssim(image, mirrored, 32) < 0.2);
        Assert.True(ImageSimilarity.Ssim(image, blank, 32) < 0.1);
    }

    [Fact]
    public void Ssim_RejectsImagesOfDifferentSizes()
    {
        Assert.Throws<ArgumentException>(() => ImageSimilarity.Ssim(new float[64], new float[32], 8));
    }
}
