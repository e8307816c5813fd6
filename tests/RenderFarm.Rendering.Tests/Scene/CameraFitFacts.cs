using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>
/// A camera fills an image of another aspect as Blender's sensor fit AUTO does: the image's larger side keeps the
/// camera's wider field of view.
/// </summary>
public class CameraFitFacts
{
    private const float YFov = 0.6f;
    private static readonly float s_tanY = MathF.Tan(YFov / 2);

    [Fact]
    public void At_the_cameras_own_aspect_the_view_is_unchanged()
    {
        Assert.Equal((s_tanY * 16 / 9f, s_tanY), CameraFit.TanHalfAngles(YFov, 16 / 9f, 16 / 9f));
        Assert.Equal((s_tanY, s_tanY), CameraFit.TanHalfAngles(YFov, 1, 1));
    }

    // Guards: a 16:9 camera rendered square kept its vertical view, so the picture was cropped at the sides where
    // Blender keeps the horizontal view and shows more above and below.
    [Fact]
    public void A_landscape_camera_rendered_square_keeps_its_horizontal_view()
    {
        (float x, float y) = CameraFit.TanHalfAngles(YFov, 16 / 9f, 1);

        Assert.Equal(s_tanY * 16 / 9f, x, 5);
        Assert.Equal(s_tanY * 16 / 9f, y, 5);
    }

    [Fact]
    public void A_landscape_camera_rendered_portrait_puts_its_wide_view_on_the_tall_side()
    {
        (float x, float y) = CameraFit.TanHalfAngles(YFov, 2, 0.5f);

        Assert.Equal(s_tanY * 2, y, 5);
        Assert.Equal(s_tanY, x, 5);
    }

    [Fact]
    public void A_portrait_camera_rendered_landscape_puts_its_tall_view_on_the_wide_side()
    {
        (float x, float y) = CameraFit.TanHalfAngles(YFov, 0.5f, 2);

        Assert.Equal(s_tanY, x, 5);
        Assert.Equal(s_tanY / 2, y, 5);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.MaxValue)]
    public void A_missing_or_hostile_aspect_keeps_the_vertical_view(float? aspect)
    {
        (float x, float y) = CameraFit.TanHalfAngles(YFov, aspect, 2);

        Assert.Equal(s_tanY, y);
        Assert.Equal(s_tanY * 2, x);
    }
}
