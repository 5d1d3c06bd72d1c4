import type { Tensor } from "@tensorflow/tfjs";
import { zipSync } from "fflate";
import { dump } from "npyjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { loadData, readSamples, readSource, toDataset } from "./data";
import { fitArgs } from "./fit";
import { checkDataFitsModel } from "./fit-tensors";
import { SpecError } from "./spec-error";
import { readTable } from "./tabular";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
});

function issuesOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).issues;
  }
  throw new Error("expected a SpecError");
}

describe("builtin datasets", () => {
  it("iris has 150 rows × 4 features, 50 of each of 3 classes", () => {
    const iris = readSource({ source: "builtin", name: "iris" });
    expect(iris.x).toHaveLength(150);
    expect(iris.x.every((row) => row.length === 4)).toBe(true);
    expect(iris.features).toEqual(["sepal_length", "sepal_width", "petal_length", "petal_width"]);
    expect(iris.classes).toEqual(["setosa", "versicolor", "virginica"]);
    const counts = [0, 1, 2].map((c) => (iris.y as number[]).filter((label) => label === c).length);
    expect(counts).toEqual([50, 50, 50]);
    // The file is sorted by class; the seeded order lets validation_split (the last 20%) see every class.
    const heldOut = new Set((iris.y as number[]).slice(120));
    expect(heldOut).toEqual(new Set([0, 1, 2]));
    expect(readSource({ source: "builtin", name: "iris" }).y).toEqual(iris.y);
    expect(readSource({ source: "builtin", name: "iris", seed: 1 }).y).not.toEqual(iris.y);
    const { train } = loadData(tf, { source: "builtin", name: "iris" });
    expect((train.x as Tensor).shape).toEqual([150, 4]);
    expect(train.y.shape).toEqual([150]);
  });

  for (const name of ["xor", "spirals", "regression"] as const) {
    it(`${name} is deterministic in its seed and honours samples`, () => {
      const a = readSource({ source: "builtin", name, samples: 64, seed: 7 });
      const b = readSource({ source: "builtin", name, samples: 64, seed: 7 });
      const c = readSource({ source: "builtin", name, samples: 64, seed: 8 });
      expect(a.x).toHaveLength(64);
      expect(a.y).toHaveLength(64);
      expect(b).toEqual(a);
      expect(c.x).not.toEqual(a.x);
    });
  }

  it("spirals come shuffled by their seed: validation_split's last 20% holds both spirals, centre to rim", () => {
    const spirals = readSource({ source: "builtin", name: "spirals", samples: 1000, seed: 2 });
    const heldOut = { x: spirals.x.slice(800), y: (spirals.y as number[]).slice(800) };
    const ones = heldOut.y.filter((label) => label === 1).length;
    expect(ones).toBeGreaterThan(80);
    expect(ones).toBeLessThan(120);
    // Generated from the centre out (radius 0 to 5); the held-out rows span the whole range, not the rim.
    const radii = heldOut.x.map(([a, b]) => Math.hypot(a, b)).sort((a, b) => a - b);
    expect(radii[0]).toBeLessThan(0.5);
    expect(radii[100]).toBeGreaterThan(2);
    expect(radii[100]).toBeLessThan(3);
    expect(radii[199]).toBeGreaterThan(4.5);
    // The same seed gives the same rows in the same order; the order alone depends on nothing else.
    expect(readSource({ source: "builtin", name: "spirals", samples: 1000, seed: 2 })).toEqual(spirals);
    const other = readSource({ source: "builtin", name: "spirals", samples: 1000, seed: 3 });
    expect(other.y).not.toEqual(spirals.y);
  });

  it("xor and spirals are balanced two-class problems; regression targets follow the inputs", () => {
    for (const name of ["xor", "spirals"] as const) {
      const table = readSource({ source: "builtin", name, samples: 400, seed: 1 });
      const ones = (table.y as number[]).filter((label) => label === 1).length;
      expect(new Set(table.y as number[])).toEqual(new Set([0, 1]));
      expect(ones).toBeGreaterThan(150);
      expect(ones).toBeLessThan(250);
    }
    // Without noise the targets are an exact linear function: fit it from the first rows and check the rest.
    const table = readSource({
      source: "builtin",
      name: "regression",
      samples: 50,
      seed: 3,
      noise: 0,
      features: 1,
    });
    const [[x0], [x1]] = table.x;
    const [y0, y1] = table.y as number[];
    const slope = (y1 - y0) / (x1 - x0);
    table.x.forEach(([x], i) => {
      expect((table.y as number[])[i]).toBeCloseTo(y0 + slope * (x - x0), 6);
    });
  });
});

describe("files", () => {
  const csv = 'sepal,"petal, width",species\n5.1,0.2,setosa\r\n6.0,1.5,versicolor\n\n5.0,0.3,setosa\n';

  it("reads CSV with quoted headers, CRLF and blank lines; text labels become sorted class indices", () => {
    const table = readTable(csv, { format: "csv", label: "species" });
    expect(table).toEqual({
      x: [
        [5.1, 0.2],
        [6.0, 1.5],
        [5.0, 0.3],
      ],
      y: [0, 1, 0],
      features: ["sepal", "petal, width"],
      classes: ["setosa", "versicolor"],
    });
  });

  it("reads JSONL, with chosen features in the given order", () => {
    const jsonl = '{"a": 1, "b": 2, "y": 0.5}\n{"a": 3, "b": 4, "y": 1.5}\n';
    expect(readTable(jsonl, { format: "jsonl", label: "y", features: ["b", "a"] })).toEqual({
      x: [
        [2, 1],
        [4, 3],
      ],
      y: [0.5, 1.5],
      features: ["b", "a"],
    });
  });

  it("says which label column is missing and which columns exist", () => {
    const issues = issuesOf(() =>
      readTable(csv, { format: "csv", label: "class", source: "s3://bucket/iris.csv" }),
    );
    expect(issues).toEqual([
      {
        path: "/data/label",
        message:
          "label column 'class' not found; columns are: sepal, petal, width, species in s3://bucket/iris.csv",
      },
    ]);
  });

  it("points at a non-numeric cell by row, line and column", () => {
    const issues = issuesOf(() => readTable("a,b,y\n1,2,0\n3,x,1\n", { format: "csv", label: "y" }));
    expect(issues[0].message).toBe("non-numeric cell at row 2 (line 3), column 'b': \"x\"");
  });

  it("reports ragged CSV rows, bad JSONL lines, unknown features and empty files", () => {
    expect(issuesOf(() => readTable("a,y\n1,2,3\n", { format: "csv", label: "y" }))[0].message).toBe(
      "line 2 has 3 cells but the header names 2 columns",
    );
    expect(
      issuesOf(() => readTable('{"a":1,"y":0}\n{oops}\n', { format: "jsonl", label: "y" }))[0].message,
    ).toMatch(/^line 2 is not valid JSON/);
    expect(
      issuesOf(() => readTable("a,y\n1,0\n", { format: "csv", label: "y", features: ["z"] }))[0],
    ).toEqual({
      path: "/data/features/0",
      message: "feature column 'z' not found; columns are: a, y",
    });
    expect(issuesOf(() => readTable("a,y\n", { format: "csv", label: "y" }))[0].message).toBe(
      "the file has no data rows",
    );
  });

  it("reads validation data with the training classes and refuses a class it never saw", () => {
    const spec = {
      source: "uri" as const,
      uri: "s3://b/train.csv",
      label: "species",
      validation: { source: "uri" as const, uri: "s3://b/val.csv", label: "species" },
    };
    const { train, validation } = loadData(tf, spec, {
      data: csv,
      validation: 'sepal,"petal, width",species\n6,1,versicolor\n',
    });
    expect(train.classes).toEqual(["setosa", "versicolor"]);
    expect(Array.from(validation!.y.dataSync())).toEqual([1]);
    const issues = issuesOf(() =>
      loadData(tf, spec, { data: csv, validation: 'sepal,"petal, width",species\n6,1,virginica\n' }),
    );
    expect(issues[0]).toEqual({
      path: "/data/validation",
      message:
        "label 'virginica' at row 1 (line 2) is not one of the classes: setosa, versicolor in s3://b/val.csv",
    });
  });

  it("needs the fetched contents of a file source, and a format it can tell", () => {
    expect(issuesOf(() => readSource({ source: "dataset", id: "ds_1", label: "y" }))[0].message).toBe(
      "the data file's contents were not provided",
    );
    expect(issuesOf(() => readSource({ source: "dataset", id: "ds_1", label: "y" }, "y\n1\n"))[0].path).toBe(
      "/data/format",
    );
  });
});

describe("inline data", () => {
  it("becomes tensors of the given shape", () => {
    const { train } = loadData(tf, {
      source: "inline",
      x: [
        [0, 1],
        [1, 0],
      ],
      y: [[1], [0]],
    });
    expect((train.x as Tensor).shape).toEqual([2, 2]);
    expect(train.y.shape).toEqual([2, 1]);
  });

  it("takes samples of any rank, and inputs by name", async () => {
    const image = (v: number) => [
      [[v], [v + 1]],
      [[v + 2], [v + 3]],
    ];
    const { train } = loadData(tf, { source: "inline", x: [image(0), image(10)], y: [0, 1] });
    expect((train.x as Tensor).shape).toEqual([2, 2, 2, 1]);
    expect(Array.from((train.x as Tensor).dataSync())).toEqual([0, 1, 2, 3, 10, 11, 12, 13]);
    const named = loadData(tf, {
      source: "inline",
      x: { tokens: [[1, 2, 3]], meta: [[0.5]] },
      y: [[[1], [0], [1]]],
    }).train;
    const inputs = named.x as Record<string, Tensor>;
    expect(Object.keys(inputs)).toEqual(["tokens", "meta"]);
    expect(inputs.tokens.shape).toEqual([1, 3]);
    expect(named.y.shape).toEqual([1, 3, 1]);
  });

  it("refuses mismatched lengths and ragged samples with ONE issue at the first offending element", () => {
    expect(issuesOf(() => readSamples({ source: "inline", x: [[1], [2]], y: [1] }))).toEqual([
      { path: "/data/y", message: "has 1 samples; x has 2" },
    ]);
    expect(issuesOf(() => readSamples({ source: "inline", x: [[1], [2, 3]], y: [1, 0] }))).toEqual([
      {
        path: "/data/x/1",
        message: "is a list of 2, but sample 0 is a list of 1 (shape [2,1])",
      },
    ]);
    // Thousands of ragged images are one mistake: the first one is named, nothing else listed.
    const images = Array.from({ length: 4000 }, (_, i) => [[1, 2, 3], i === 7 ? [1, 2] : [4, 5, 6]]);
    const y = images.map(() => 0);
    expect(issuesOf(() => readSamples({ source: "inline", x: images, y }))).toEqual([
      {
        path: "/data/x/7/1",
        message: "is a list of 2, but the same place in sample 0 is a list of 3 (shape [4000,2,3])",
      },
    ]);
    expect(issuesOf(() => readSamples({ source: "inline", x: [[[1, "a"]]], y: [0] }))).toEqual([
      { path: "/data/x/0/0/1", message: 'is "a", but the same place in sample 0 is a number' },
    ]);
    const deep = [[[[[[[1]]]]]]];
    expect(issuesOf(() => readSamples({ source: "inline", x: deep, y: [0] }))[0].message).toMatch(
      /more than 6 dimensions/,
    );
    expect(
      issuesOf(() => readSamples({ source: "inline", x: { a: [[1], [2]], b: [[1]] }, y: [0, 1] })),
    ).toEqual([{ path: "/data/x/b", message: "has 1 samples; x/a has 2" }]);
  });
});

describe("JSONL rows holding nested lists", () => {
  const rows = [
    '{"image": [[1, 2], [3, 4]], "label": 0, "onehot": [1, 0]}',
    '{"image": [[5, 6], [7, 8]], "label": 1, "onehot": [0, 1]}',
  ];

  it("give samples of the nested shape, and target vectors from a list label", () => {
    const spec = { source: "uri" as const, uri: "s3://b/images.jsonl", label: "label", features: ["image"] };
    const { train } = loadData(tf, spec, { data: rows.join("\n") });
    expect((train.x as Tensor).shape).toEqual([2, 2, 2]);
    expect(Array.from((train.x as Tensor).dataSync())).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const onehot = loadData(tf, { ...spec, label: "onehot" }, { data: rows.join("\n") }).train;
    expect(onehot.y.shape).toEqual([2, 2]);
  });

  it("name the row, line and place of a ragged one, and refuse a nested column among others", () => {
    const ragged = [...rows, '{"image": [[1, 2], [3]], "label": 0}'].join("\n");
    const spec = { source: "uri" as const, uri: "s3://b/images.jsonl", label: "label", features: ["image"] };
    expect(issuesOf(() => loadData(tf, spec, { data: ragged }))).toEqual([
      {
        path: "/data",
        message:
          "column 'image' at row 3 (line 3) at [1] is a list of 1, but the same place in row 1 is a list of 2 (shape [3,2,2]) in s3://b/images.jsonl",
      },
    ]);
    const both = { ...spec, features: ["image", "onehot"] };
    expect(issuesOf(() => loadData(tf, both, { data: rows.join("\n") }))[0].path).toBe("/data/features");
  });

  it("count a nested cell as all its numbers against MAX_DATA_CELLS", () => {
    const spec = { source: "uri" as const, uri: "s3://b/images.jsonl", label: "label", features: ["image"] };
    expect(issuesOf(() => loadData(tf, spec, { data: rows.join("\n") }, { maxCells: 9 }))[0].message).toMatch(
      /reaches 2 rows × 5 columns \(4 features \+ 1 label\) = 10 cells at line 2/,
    );
  });
});

describe(".npy and .npz files", () => {
  const npy = (values: Parameters<typeof dump>[0], shape: number[]) => new Uint8Array(dump(values, shape));
  const images = npy(new Uint8Array(Array.from({ length: 3 * 2 * 2 }, (_, i) => i)), [3, 2, 2, 1]);
  const labels = npy(new Int32Array([0, 1, 2]), [3]);

  it("an .npy of x with an .npy of labels; uint8 values kept as they are (no scaling)", () => {
    const spec = {
      source: "dataset" as const,
      id: "x",
      format: "npy" as const,
      y: { source: "dataset" as const, id: "y" },
    };
    const { train } = loadData(tf, spec, { data: images, labels });
    expect((train.x as Tensor).shape).toEqual([3, 2, 2, 1]);
    expect((train.x as Tensor).dataSync()[11]).toBe(11);
    expect(Array.from(train.y.dataSync())).toEqual([0, 1, 2]);
    expect(issuesOf(() => loadData(tf, { ...spec, y: undefined }, { data: images }))).toEqual([
      {
        path: "/data/y",
        message:
          'is required with an .npy file: the .npy of labels, e.g. {"source": "dataset", "id": "<id of y.npy>"}',
      },
    ]);
    const short = npy(new Int32Array([0, 1]), [2]);
    expect(issuesOf(() => loadData(tf, spec, { data: images, labels: short }))[0].message).toBe(
      "array 'array' has 3 samples but the labels have 2 (dataset x)",
    );
  });

  it("an .npz's x and y by name, validation from the same file, inputs by name", () => {
    const file = zipSync({
      "x_train.npy": images,
      "y_train.npy": labels,
      "x_val.npy": npy(new Float32Array(4), [1, 2, 2, 1]),
      "y_val.npy": npy(new Float32Array([1]), [1]),
    });
    const spec = {
      source: "uri" as const,
      uri: "s3://b/mnist.npz",
      arrays: { x: "x_train", y: "y_train" },
      validation: { source: "uri" as const, uri: "s3://b/mnist.npz", arrays: { x: "x_val", y: "y_val" } },
    };
    const { train, validation } = loadData(tf, spec, { data: file, validation: file });
    expect((train.x as Tensor).shape).toEqual([3, 2, 2, 1]);
    expect(validation!.y.shape).toEqual([1]);
    const named = loadData(
      tf,
      { ...spec, arrays: { x: { pixels: "x_train" }, y: "y_train" }, validation: undefined },
      {
        data: file,
      },
    ).train;
    expect((named.x as Record<string, Tensor>).pixels.shape).toEqual([3, 2, 2, 1]);
    expect(
      issuesOf(() => loadData(tf, { ...spec, arrays: undefined, validation: undefined }, { data: file })),
    ).toEqual([
      {
        path: "/data/arrays/x",
        message: "the .npz has no array 'x'; it holds: x_train, y_train, x_val, y_val",
      },
    ]);
    expect(issuesOf(() => loadData(tf, spec, { data: file, validation: file }, { maxCells: 19 }))[0]).toEqual(
      {
        path: "/data/validation",
        message:
          "has 1 rows × 5 columns (4 features + 1 label) = 5 cells besides the training data's 15; this service accepts at most 19 cells of data per job, training and validation together (MAX_DATA_CELLS) (s3://b/mnist.npz)",
      },
    );
  });
});

describe("checkDataFitsModel", () => {
  const model = () =>
    tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [2, 2, 1] }),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });

  it("fails a file's out-of-range sparse label at its row, where tfjs would train on a zero one-hot row", () => {
    const data = {
      train: toDataset(
        tf,
        readSamples({
          source: "inline",
          x: [
            [
              [[1], [2]],
              [[3], [4]],
            ],
          ],
          y: [0],
        }),
      ),
    };
    const built = model();
    expect(() => checkDataFitsModel(built, { loss: "sparse_categorical_crossentropy" }, data)).not.toThrow();
    data.train.y = tf.tensor1d([3]);
    expect(
      issuesOf(() => checkDataFitsModel(built, { loss: "sparse_categorical_crossentropy" }, data)),
    ).toEqual([
      {
        path: "/data",
        message:
          "label 3 at row 1 is not a class index in [0, 3): sparse_categorical_crossentropy takes class indices below the output layer's 3 units",
      },
    ]);
    expect(issuesOf(() => checkDataFitsModel(built, { loss: "binary_crossentropy" }, data))[0].message).toBe(
      "label 3 at row 1 is outside [0, 1]: binary_crossentropy takes labels between 0 and 1",
    );
    data.train.x = tf.zeros([1, 4]);
    expect(issuesOf(() => checkDataFitsModel(built, { loss: "mse" }, data))).toEqual([
      { path: "/data", message: "has samples of shape [4], but the model's input takes [2,2,1]" },
    ]);
  });
});

describe("fitArgs", () => {
  it("maps Keras fit names to tfjs", () => {
    expect(
      fitArgs({
        epochs: 10,
        batch_size: 16,
        validation_split: 0.2,
        shuffle: false,
        initial_epoch: 3,
        class_weight: { "0": 1, "1": 5 },
      }),
    ).toEqual({
      epochs: 10,
      batchSize: 16,
      validationSplit: 0.2,
      shuffle: false,
      initialEpoch: 3,
      classWeight: { "0": 1, "1": 5 },
      verbose: 0,
    });
    expect(fitArgs({ epochs: 1 })).toEqual({
      epochs: 1,
      batchSize: 32,
      shuffle: true,
      initialEpoch: 0,
      verbose: 0,
    });
  });

  it("passes a validation source as validationData, and refuses it together with validation_split", () => {
    const { train } = loadData(tf, { source: "builtin", name: "xor", samples: 8 });
    expect(fitArgs({ epochs: 1 }, train).validationData).toEqual([train.x, train.y]);
    expect(issuesOf(() => fitArgs({ epochs: 1, validation_split: 0.1 }, train))[0].path).toBe(
      "/fit/validation_split",
    );
    expect(issuesOf(() => fitArgs({ epochs: 2, initial_epoch: 2 }))[0].path).toBe("/fit/initial_epoch");
  });

  it("class_weight changes the loss tfjs trains on, as Keras's does", async () => {
    const { train } = loadData(tf, { source: "inline", x: [[1], [1]], y: [0, 1] });
    const losses: number[] = [];
    for (const class_weight of [
      { "0": 1, "1": 1 },
      { "0": 1, "1": 3 },
    ]) {
      const model = tf.sequential({
        layers: [tf.layers.dense({ units: 1, inputShape: [1], kernelInitializer: "zeros" })],
      });
      model.compile({ optimizer: tf.train.sgd(0), loss: "meanSquaredError" });
      const history = await model.fit(
        train.x as Tensor,
        train.y,
        fitArgs({ epochs: 1, shuffle: false, class_weight }),
      );
      losses.push(history.history.loss[0] as number);
    }
    // Prediction 0: squared errors 0 and 1, weighted 1 and w, averaged over the batch.
    expect(losses[0]).toBeCloseTo((0 + 1) / 2, 6);
    expect(losses[1]).toBeCloseTo((0 + 3) / 2, 6);
  });
});

describe("MAX_DATA_CELLS", () => {
  const limit = { maxCells: 1000 };

  it("refuses a builtin source over the limit before generating it", () => {
    const started = Date.now();
    const issues = issuesOf(() =>
      loadData(tf, { source: "builtin", name: "regression", samples: 50_000_000, features: 1000 }, {}, limit),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(issues).toEqual([
      {
        path: "/data",
        message:
          "has 50,000,000 rows × 1,001 columns (1,000 features + 1 label) = 50,050,000,000 cells; this service accepts at most 1,000 cells of data per job, training and validation together (MAX_DATA_CELLS)",
      },
    ]);
    expect(
      (loadData(tf, { source: "builtin", name: "xor", samples: 333 }, {}, limit).train.x as Tensor).shape,
    ).toEqual([333, 2]);
  });

  it("stops reading a file at the row that passes the limit, and counts validation data with training data", () => {
    const rows = (n: number) =>
      ["a,b,y", ...Array.from({ length: n }, (_, i) => `${i},${i},${i % 2}`)].join("\n");
    const file = { source: "uri" as const, uri: "s3://b/big.csv", label: "y" };
    expect(issuesOf(() => loadData(tf, file, { data: rows(100_000) }, limit))).toEqual([
      {
        path: "/data",
        message:
          "s3://b/big.csv reaches 334 rows × 3 columns (2 features + 1 label) = 1,002 cells at line 335; this service accepts at most 1,000 cells of data per job, training and validation together (MAX_DATA_CELLS): use fewer rows, or fewer feature columns with data.features",
      },
    ]);
    // Only the columns used count: one feature of three.
    expect(
      (loadData(tf, { ...file, features: ["a"] }, { data: rows(500) }, limit).train.x as Tensor).shape,
    ).toEqual([500, 1]);

    const withValidation = { ...file, validation: { ...file, uri: "s3://b/val.csv" } };
    const issues = issuesOf(() =>
      loadData(tf, withValidation, { data: rows(200), validation: rows(200) }, limit),
    );
    expect(issues[0].path).toBe("/data/validation");
    expect(issues[0].message).toMatch(
      /^s3:\/\/b\/val.csv reaches 134 rows × 3 columns .* at line 135 besides the training data's 600; this service accepts at most 1,000 cells/,
    );
  });
});
