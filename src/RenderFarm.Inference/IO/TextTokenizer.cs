using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>
/// Turns lines of text into token ids for encoder models, with Microsoft.ML.Tokenizers: WordPiece from a BERT
/// <c>vocab.txt</c> or a Hugging Face <c>tokenizer.json</c> whose model is WordPiece, and byte-level BPE from a
/// <c>tokenizer.json</c> whose model is BPE (GPT-2 and RoBERTa style).
/// </summary>
public sealed partial class TextTokenizer
{
    /// <summary>The option that names the tokenizer file.</summary>
    public const string Option = "--tokenizer";

    /// <summary>The largest tokenizer file read.</summary>
    public const long MaxFileBytes = 64L << 20;

    private readonly Tokenizer _tokenizer;
    private readonly int? _first;
    private readonly int? _last;

    private TextTokenizer(Tokenizer tokenizer, int padId, int? first, int? last, string kind)
    {
        _tokenizer = tokenizer;
        PadId = padId;
        _first = first;
        _last = last;
        Kind = kind;
    }

    /// <summary>The id padding positions take (the attention mask hides them).</summary>
    public int PadId { get; }

    /// <summary>What the tokenizer is, for the summary line (e.g. "WordPiece, lowercase").</summary>
    public string Kind { get; }

    /// <summary>Reads a <c>vocab.txt</c> (WordPiece) or <c>tokenizer.json</c> (WordPiece or BPE).</summary>
    /// <exception cref="UserInputException">The file is missing, too large, malformed or of a kind not supported.</exception>
    public static TextTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxFileBytes)
            {
                throw new UserInputException($"{path}: {info.Length} bytes is larger than a tokenizer file may be ({MaxFileBytes}).");
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserInputException($"{path}: no such file.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read it: {e.Message}", e);
        }

        try
        {
            return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? FromJson(bytes, path) : FromVocabulary(new MemoryStream(bytes), lowercase: true, "[UNK]");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or JsonException or KeyNotFoundException)
        {
            throw new UserInputException($"{path}: not a tokenizer this program reads ({e.Message}).", e);
        }
    }

    /// <summary>
    /// The ids of <paramref name="text"/> with the model's special tokens ([CLS] … [SEP], or &lt;s&gt; … &lt;/s&gt;),
    /// truncated to <paramref name="maxTokens"/> with the closing token kept.
    /// </summary>
    public int[] Encode(string text, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 2);
        List<int> ids = _tokenizer is BertTokenizer bert
            ? [.. bert.EncodeToIds(text, addSpecialTokens: true)]
            : [.. _tokenizer.EncodeToIds(text)];
        if (_tokenizer is not BertTokenizer)
        {
            if (_first is int first)
            {
                ids.Insert(0, first);
            }

            if (_last is int last)
            {
                ids.Add(last);
            }
        }

        if (ids.Count > maxTokens)
        {
            int closing = ids[^1];
            ids.RemoveRange(maxTokens - 1, ids.Count - maxTokens + 1);
            ids.Add(closing);
        }

        return [.. ids];
    }

    private static TextTokenizer FromVocabulary(Stream vocabulary, bool lowercase, string unknown)
    {
        BertTokenizer bert = BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = lowercase, UnknownToken = unknown });
        return new TextTokenizer(bert, bert.PaddingTokenId, null, null, lowercase ? "WordPiece, lowercase" : "WordPiece, cased");
    }

    private static TextTokenizer FromJson(byte[] bytes, string path)
    {
        using JsonDocument document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        JsonElement root = document.RootElement;
        JsonElement model = root.GetProperty("model");
        string type = model.TryGetProperty("type", out JsonElement t) ? t.GetString() ?? string.Empty : string.Empty;
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocabulary[entry.Name] = entry.Value.GetInt32();
        }

        string? unknown = model.TryGetProperty("unk_token", out JsonElement u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        switch (type)
        {
            case "WordPiece":
            {
                bool lowercase = !root.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind != JsonValueKind.Object ||
                    !normalizer.TryGetProperty("lowercase", out JsonElement lower) || lower.ValueKind != JsonValueKind.False;
                var lines = new string[vocabulary.Count];
                foreach ((string token, int id) in vocabulary)
                {
                    if (id < 0 || id >= lines.Length || lines[id] is not null)
                    {
                        throw new FormatException($"the vocabulary's ids are not 0 to {lines.Length - 1} once each");
                    }

                    lines[id] = token;
                }

                return FromVocabulary(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n")), lowercase, unknown ?? "[UNK]");
            }

            case "BPE":
            {
                var merges = new List<string>();
                foreach (JsonElement merge in model.GetProperty("merges").EnumerateArray())
                {
                    merges.Add(merge.ValueKind == JsonValueKind.Array ? $"{merge[0].GetString()} {merge[1].GetString()}" : merge.GetString() ?? string.Empty);
                }

                // Special tokens the post-processor adds around a single sequence (RoBERTa: <s> … </s>).
                (string? first, string? last) = (null, null);
                if (root.TryGetProperty("post_processor", out JsonElement post) && post.ValueKind == JsonValueKind.Object &&
                    post.TryGetProperty("cls", out JsonElement cls) && post.TryGetProperty("sep", out JsonElement sep))
                {
                    (first, last) = (cls[0].GetString(), sep[0].GetString());
                }

                var options = new BpeOptions(vocabulary)
                {
                    Merges = merges,
                    ByteLevel = true,
                    PreTokenizer = new RegexPreTokenizer(Gpt2Split(), null),
                    UnknownToken = unknown,
                };
                BpeTokenizer bpe = BpeTokenizer.Create(options);
                int pad = vocabulary.TryGetValue("<pad>", out int p) ? p : 0;
                int? Id(string? token) => token is null ? null : vocabulary.TryGetValue(token, out int id) ? id : throw new FormatException($"special token '{token}' is not in the vocabulary");
                return new TextTokenizer(bpe, pad, Id(first), Id(last), "byte-level BPE");
            }

            default:
                throw new UserInputException($"{path}: tokenizer model '{type}' is not supported; WordPiece and BPE are.");
        }
    }

    // GPT-2's pre-tokenization: contractions, letters, digits and other runs, each with one leading space.
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Split();
}

/// <summary>How token vectors become one embedding per text.</summary>
public enum TextPooling
{
    /// <summary>The mean of the vectors of the text's tokens (padding left out).</summary>
    Mean,

    /// <summary>The vector of the first token ([CLS]).</summary>
    Cls,

    /// <summary>The model's output as it is (for models that pool themselves).</summary>
    None,
}

/// <summary>Batches of tokenized texts for a model's inputs, and pooling of its outputs into embeddings.</summary>
public static class TextEmbedding
{
    /// <summary>
    /// The model inputs for <paramref name="texts"/>: <c>input_ids</c> padded to the longest, <c>attention_mask</c>
    /// (1 for tokens, 0 for padding) and, where the model has it, <c>token_type_ids</c> of zeros.
    /// </summary>
    /// <exception cref="UserInputException">The model has an input the text cannot fill.</exception>
    public static Dictionary<string, Tensor> Inputs(IReadOnlyList<TensorInfo> modelInputs, IReadOnlyList<int[]> texts, int padId)
    {
        ArgumentNullException.ThrowIfNull(modelInputs);
        ArgumentNullException.ThrowIfNull(texts);
        int length = texts.Max(t => t.Length);
        var ids = new float[texts.Count * length];
        var mask = new float[texts.Count * length];
        for (int b = 0; b < texts.Count; b++)
        {
            for (int s = 0; s < length; s++)
            {
                bool token = s < texts[b].Length;
                ids[(b * length) + s] = token ? texts[b][s] : padId;
                mask[(b * length) + s] = token ? 1 : 0;
            }
        }

        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (TensorInfo input in modelInputs)
        {
            float[] data = input.Name switch
            {
                "input_ids" => ids,
                "attention_mask" => mask,
                "token_type_ids" => new float[ids.Length],
                _ => throw new UserInputException(
                    $"The model's input '{input.Name}' is not one text fills (input_ids, attention_mask, token_type_ids)."),
            };
            result[input.Name] = new Tensor([texts.Count, length], data, input.ElementType);
        }

        if (!result.ContainsKey("input_ids"))
        {
            throw new UserInputException("The model has no input named input_ids to take the tokens.");
        }

        return result;
    }

    /// <summary>
    /// One embedding per text from <paramref name="output"/>: a <c>[B, S, H]</c> output is pooled over each text's
    /// tokens (the first <paramref name="lengths"/>[b] positions; the rest is padding); a <c>[B, H]</c> output is taken
    /// as it is. With <paramref name="normalize"/>, each has length 1.
    /// </summary>
    /// <exception cref="UserInputException">The output's shape does not fit the batch.</exception>
    public static float[][] Pool(Tensor output, IReadOnlyList<int> lengths, TextPooling pooling, bool normalize)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(lengths);
        int batch = lengths.Count;
        int length = lengths.Max();
        var result = new float[batch][];
        if (output.Shape.Count == 2 && output.Shape[0] == batch)
        {
            int hidden = output.Shape[1];
            for (int b = 0; b < batch; b++)
            {
                result[b] = output.Data.AsSpan(b * hidden, hidden).ToArray();
            }
        }
        else if (output.Shape.Count == 3 && output.Shape[0] == batch && output.Shape[1] == length && pooling != TextPooling.None)
        {
            int hidden = output.Shape[2];
            for (int b = 0; b < batch; b++)
            {
                var sum = new double[hidden];
                double count = 0;
                for (int s = 0; s < (pooling == TextPooling.Cls ? 1 : length); s++)
                {
                    double weight = pooling == TextPooling.Cls || s < lengths[b] ? 1 : 0;
                    count += weight;
                    for (int h = 0; h < hidden; h++)
                    {
                        sum[h] += weight * output.Data[(((b * length) + s) * hidden) + h];
                    }
                }

                result[b] = sum.Select(v => (float)(v / Math.Max(count, 1e-9))).ToArray();
            }
        }
        else
        {
            throw new UserInputException(
                $"The model's output of shape [{string.Join(", ", output.Shape)}] is neither [batch, hidden] nor [batch, tokens, hidden] for --pooling {pooling.ToString().ToLowerInvariant()}.");
        }

        if (normalize)
        {
            foreach (float[] vector in result)
            {
                double norm = Math.Sqrt(vector.Sum(v => (double)v * v));
                for (int h = 0; h < vector.Length; h++)
                {
                    vector[h] = (float)(vector[h] / Math.Max(norm, 1e-12));
                }
            }
        }

        return result;
    }
}
