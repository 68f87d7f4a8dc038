using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;

namespace AspireAi.Offline;

/// <summary>
/// Rewrites the float32 MiniLM graph into its dynamically quantized form, as ONNX Runtime's own
/// <c>quantize_dynamic</c> would: each <c>MatMul</c> whose weight is a 2-D float initializer becomes the contrib
/// operator <c>com.microsoft.DynamicQuantizeMatMul</c> (activations quantized to uint8 per run, weights stored as
/// int8 with one symmetric scale per output column), so the matrix products run as 8-bit integer dot products
/// (AVX-512 VNNI / AMX on this machine) and read a quarter of the weight bytes. Everything else is copied byte for byte.
/// </summary>
/// <remarks>
/// The model is edited at the protobuf wire level (Google.Protobuf's coded streams): only the fields read here (ModelProto.graph and opset_import,
/// GraphProto.node and initializer, NodeProto inputs/outputs/op_type, TensorProto dims/data_type/name/raw_data) are
/// interpreted; every other field is passed through unchanged, so no ONNX schema has to be vendored.
/// </remarks>
internal static class MiniLmQuantizer
{
    /// <summary>Part of the cached file's name: a change to the rewrite produces a new file instead of reusing an old one.</summary>
    public const int Version = 1;

    private const int FloatType = 1;
    private const int Int8Type = 3;

    public static byte[] Quantize(byte[] model)
    {
        var fields = Read(model);
        var graphField = fields.SingleOrDefault(f => f.Number == 7)
            ?? throw new InvalidDataException("The ONNX model has no graph.");
        if (fields.Any(f => f.Number == 8 && Read(f.Bytes).Any(o => o.Number == 1 && Encoding.UTF8.GetString(o.Bytes) == "com.microsoft")))
        {
            throw new InvalidDataException("The ONNX model already imports com.microsoft; it is not the float model this expects.");
        }

        var graph = QuantizeGraph(graphField.Bytes);
        return Message(output =>
        {
            foreach (var field in fields)
            {
                if (field.Number == 7)
                {
                    WriteBytes(output, 7, graph);
                }
                else
                {
                    field.WriteTo(output);
                }
            }

            // opset_import { domain: "com.microsoft", version: 1 }
            WriteBytes(output, 8, Message(opset =>
            {
                WriteBytes(opset, 1, "com.microsoft"u8.ToArray());
                WriteVarintField(opset, 2, 1);
            }));
        });
    }

    private static byte[] QuantizeGraph(byte[] graph)
    {
        var fields = Read(graph);
        // Parsed once, in field order: the rewrite below walks the fields again and takes these in turn.
        var tensors = fields.Where(f => f.Number == 5).Select(f => Tensor.Parse(f.Bytes)).ToList();
        var nodes = fields.Where(f => f.Number == 1).Select(f => Node.Parse(f.Bytes)).ToList();
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            initializers[tensor.Name] = tensor;
        }

        // An initializer that is also a graph input (ValueInfoProto.name) can be overridden at run time: left float.
        var graphInputs = fields.Where(f => f.Number == 11)
            .SelectMany(f => Read(f.Bytes).Where(v => v.Number == 1).Select(v => Encoding.UTF8.GetString(v.Bytes)))
            .ToHashSet(StringComparer.Ordinal);
        var uses = nodes.SelectMany(n => n.Inputs).CountBy(i => i, StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var weightUses = nodes.Where(IsWeightProduct).CountBy(n => n.Inputs[1], StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var quantized = new Dictionary<string, (Tensor Weights, Tensor Scales, Tensor ZeroPoints)>(StringComparer.Ordinal);
        foreach (var node in nodes.Where(IsWeightProduct))
        {
            if (initializers.TryGetValue(node.Inputs[1], out var weight) && weight.DataType == FloatType && weight.Dims.Count == 2
                && weight.Raw is not null && !graphInputs.Contains(weight.Name) && !quantized.ContainsKey(weight.Name))
            {
                quantized[weight.Name] = QuantizeWeights(weight);
            }
        }

        return Message(output =>
        {
            var (nextNode, nextTensor) = (0, 0);
            foreach (var field in fields)
            {
                if (field.Number == 1)
                {
                    var node = nodes[nextNode++];
                    if (IsWeightProduct(node) && quantized.TryGetValue(node.Inputs[1], out var q))
                    {
                        WriteBytes(output, 1, node.AsDynamicQuantizeMatMul(q.Weights.Name, q.Scales.Name, q.ZeroPoints.Name));
                        continue;
                    }
                }
                else if (field.Number == 5)
                {
                    var name = tensors[nextTensor++].Name;
                    // A weight only the quantized products read is replaced by its int8 form.
                    if (quantized.ContainsKey(name) && uses[name] == weightUses[name])
                    {
                        continue;
                    }
                }
                field.WriteTo(output);
            }

            foreach (var (weights, scales, zeroPoints) in quantized.Values)
            {
                WriteBytes(output, 5, weights.Serialize());
                WriteBytes(output, 5, scales.Serialize());
                WriteBytes(output, 5, zeroPoints.Serialize());
            }
        });
    }

    private static bool IsWeightProduct(Node node) => node.OpType == "MatMul" && node.Domain.Length == 0 && node.Inputs.Count == 2;

    // Symmetric per-column int8: w ≈ scale[n] × q[k, n], q in [-127, 127], zero point 0.
    private static (Tensor Weights, Tensor Scales, Tensor ZeroPoints) QuantizeWeights(Tensor weight)
    {
        var rows = checked((int)weight.Dims[0]);
        var columns = checked((int)weight.Dims[1]);
        var values = new float[rows * columns];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(weight.Raw.AsSpan(i * 4, 4));
        }

        var scales = new float[columns];
        for (var n = 0; n < columns; n++)
        {
            var max = 0f;
            for (var k = 0; k < rows; k++)
            {
                max = Math.Max(max, Math.Abs(values[k * columns + n]));
            }
            scales[n] = max > 0 ? max / 127f : 1f;
        }

        var q = new byte[values.Length];
        for (var k = 0; k < rows; k++)
        {
            for (var n = 0; n < columns; n++)
            {
                q[k * columns + n] = unchecked((byte)(sbyte)Math.Clamp(MathF.Round(values[k * columns + n] / scales[n]), -127, 127));
            }
        }

        var scaleBytes = new byte[columns * 4];
        for (var n = 0; n < columns; n++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(scaleBytes.AsSpan(n * 4), scales[n]);
        }
        return (new Tensor(weight.Name + "_quantized", Int8Type, weight.Dims, q),
            new Tensor(weight.Name + "_scale", FloatType, [columns], scaleBytes),
            new Tensor(weight.Name + "_zero_point", Int8Type, [columns], new byte[columns]));
    }

    // One field as read: a varint's value, or the bytes of a length-delimited or fixed-width one.
    private sealed record Field(int Number, WireFormat.WireType WireType, ulong Varint, byte[] Bytes)
    {
        public void WriteTo(CodedOutputStream output)
        {
            switch (WireType)
            {
                case WireFormat.WireType.Varint:
                    WriteVarintField(output, Number, Varint);
                    break;
                case WireFormat.WireType.LengthDelimited:
                    WriteBytes(output, Number, Bytes);
                    break;
                case WireFormat.WireType.Fixed64:
                    output.WriteTag(Number, WireType);
                    output.WriteFixed64(BinaryPrimitives.ReadUInt64LittleEndian(Bytes));
                    break;
                default:
                    output.WriteTag(Number, WireType);
                    output.WriteFixed32(BinaryPrimitives.ReadUInt32LittleEndian(Bytes));
                    break;
            }
        }
    }

    private sealed record Node(List<Field> Fields, List<string> Inputs, string OpType, string Domain)
    {
        public static Node Parse(byte[] bytes)
        {
            var fields = Read(bytes);
            return new Node(fields,
                [.. fields.Where(f => f.Number == 1).Select(f => Encoding.UTF8.GetString(f.Bytes))],
                fields.Where(f => f.Number == 4).Select(f => Encoding.UTF8.GetString(f.Bytes)).SingleOrDefault() ?? "",
                fields.Where(f => f.Number == 7).Select(f => Encoding.UTF8.GetString(f.Bytes)).SingleOrDefault() ?? "");
        }

        // Same outputs and name; inputs A, B (int8), b_scale, b_zero_point; op type and domain replaced.
        public byte[] AsDynamicQuantizeMatMul(string weights, string scales, string zeroPoints) => Message(output =>
        {
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(Inputs[0]));
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(weights));
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(scales));
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(zeroPoints));
            foreach (var field in Fields.Where(f => f.Number is 2 or 3))
            {
                field.WriteTo(output);
            }
            WriteBytes(output, 4, "DynamicQuantizeMatMul"u8.ToArray());
            WriteBytes(output, 7, "com.microsoft"u8.ToArray());
        });
    }

    private sealed record Tensor(string Name, int DataType, List<long> Dims, byte[]? Raw)
    {
        public static Tensor Parse(byte[] bytes)
        {
            var fields = Read(bytes);
            var dims = new List<long>();
            foreach (var field in fields.Where(f => f.Number == 1))
            {
                if (field.WireType == WireFormat.WireType.Varint)
                {
                    dims.Add((long)field.Varint);
                }
                else
                {
                    // Packed dims.
                    var packed = new CodedInputStream(field.Bytes);
                    while (!packed.IsAtEnd)
                    {
                        dims.Add(packed.ReadInt64());
                    }
                }
            }
            return new Tensor(
                fields.Where(f => f.Number == 8).Select(f => Encoding.UTF8.GetString(f.Bytes)).SingleOrDefault() ?? "",
                (int)(fields.Where(f => f.Number == 2).Select(f => f.Varint).SingleOrDefault()),
                dims,
                fields.Where(f => f.Number == 9).Select(f => f.Bytes).SingleOrDefault());
        }

        public byte[] Serialize() => Message(output =>
        {
            foreach (var dim in Dims)
            {
                WriteVarintField(output, 1, (ulong)dim);
            }
            WriteVarintField(output, 2, (ulong)DataType);
            WriteBytes(output, 8, Encoding.UTF8.GetBytes(Name));
            WriteBytes(output, 9, Raw ?? []);
        });
    }

    private static List<Field> Read(byte[] bytes)
    {
        var fields = new List<Field>();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            var wireType = WireFormat.GetTagWireType(tag);
            fields.Add(wireType switch
            {
                WireFormat.WireType.Varint => new Field(number, wireType, input.ReadUInt64(), []),
                WireFormat.WireType.LengthDelimited => new Field(number, wireType, 0, input.ReadBytes().ToByteArray()),
                WireFormat.WireType.Fixed64 => new Field(number, wireType, 0, BitConverter.GetBytes(input.ReadFixed64())),
                WireFormat.WireType.Fixed32 => new Field(number, wireType, 0, BitConverter.GetBytes(input.ReadFixed32())),
                _ => throw new InvalidDataException($"Unsupported protobuf wire type {wireType} in the ONNX model."),
            });
        }
        return fields;
    }

    // A message written by the callback, as bytes (the coded stream flushes into the buffer when disposed).
    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            write(output);
        }
        return buffer.ToArray();
    }

    private static void WriteVarintField(CodedOutputStream output, int number, ulong value)
    {
        output.WriteTag(number, WireFormat.WireType.Varint);
        output.WriteUInt64(value);
    }

    // Wrapped, not copied: the 90 MB graph is written once.
    private static void WriteBytes(CodedOutputStream output, int number, byte[] bytes)
    {
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(bytes));
    }
}
