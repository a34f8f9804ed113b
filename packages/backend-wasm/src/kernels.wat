;; Kernels for TF.js's wasm backend, run in place on its heap (imported: no memory of its own, no
;; copies in or out). Compiled to kernels.wasm.ts by scripts/build-kernels.mjs. Addresses and strides are in
;; bytes and may exceed 2^31 (i32 arithmetic wraps, which is what an address needs; counts compare unsigned).
;; Operands are read through strides, so a transposed operand is read where it lies:
;;   A (M, K): element (i, k) at a + i·ras + k·cas;  B (K, N): (k, j) at b + k·rbs + j·cbs;
;;   C (M, N): (i, j) at c + i·ldc + 4j.
;;  - matmul: batched C = A·B (+ bias on every row). From 4 rows: a GotoBLAS-style blocked product ($gemm);
;;    fewer rows (one-token decoding, column sums): streaming matrix-vector products ($gemvRows, $gemvCols),
;;    bound by memory bandwidth.
;;  - transpose: a blocked strided copy.
;;  - element-wise and row kernels of a training step (GELU, LayerNorm, dropout, cross-entropy, AdamW, gradient
;;    norms), each over a range of elements or rows so that threads can share one call (dropout's mask, a
;;    sequential random stream, excepted). Every lane of a vector and every element of a tail goes through the
;;    same vector code: a result does not depend on where a range starts.
;; The heap's limits (up to 65536 pages = 4 GB) match TF.js's heap; build-kernels.mjs also builds this source
;; with the import marked shared, for a heap shared between threads (the pool; TF.js's threaded build).
(module
  (import "env" "memory" (memory 1 65536))

  ;; Packing buffers and the edge tile, allocated once by the host (scratch).
  (global $packA (mut i32) (i32.const 0))
  (global $packB (mut i32) (i32.const 0))
  (global $tile (mut i32) (i32.const 0))

  ;; Bytes of scratch the host must allocate: packed A block, packed B block, one 4x8 tile.
  (func (export "scratchBytes") (result i32)
    (i32.const 1179840))

  (func (export "setScratch") (param $at i32)
    (global.set $packA (local.get $at))
    (global.set $packB (i32.add (local.get $at) (i32.const 131072)))
    (global.set $tile (i32.add (local.get $at) (i32.const 1179648))))

  (func $min (param $x i32) (param $y i32) (result i32)
    (select (local.get $x) (local.get $y) (i32.lt_u (local.get $x) (local.get $y))))

  ;; Four contiguous vectors (vector t at src + t·ts, kc floats) interleaved: dst + k·wb holds their k-th
  ;; elements. Four k at a time: four vector loads, a 4x4 transpose in registers, four vector stores.
  (func $pack4T (param $src i32) (param $ts i32) (param $kc i32) (param $dst i32) (param $wb i32)
    (local $k i32) (local $k4 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128)
    (local.set $s1 (i32.add (local.get $src) (local.get $ts)))
    (local.set $s2 (i32.add (local.get $s1) (local.get $ts)))
    (local.set $s3 (i32.add (local.get $s2) (local.get $ts)))
    (local.set $k4 (i32.and (local.get $kc) (i32.const -4)))
    (local.set $k (i32.const 0))
    (block $kdone (loop $kloop
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $k4)))
      (local.set $r0 (v128.load (local.get $src)))
      (local.set $r1 (v128.load (local.get $s1)))
      (local.set $r2 (v128.load (local.get $s2)))
      (local.set $r3 (v128.load (local.get $s3)))
      ;; t0 = (r0[0] r1[0] r0[1] r1[1]), t1 = (r2[0] r3[0] r2[1] r3[1]): their halves are columns 0 and 1
      (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
      (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
      (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
      (local.set $dst (i32.add (local.get $dst) (local.get $wb)))
      (v128.store (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
      (local.set $dst (i32.add (local.get $dst) (local.get $wb)))
      ;; columns 2 and 3
      (local.set $t0 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
      (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
      (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
      (local.set $dst (i32.add (local.get $dst) (local.get $wb)))
      (v128.store (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
      (local.set $dst (i32.add (local.get $dst) (local.get $wb)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
      (local.set $s2 (i32.add (local.get $s2) (i32.const 16)))
      (local.set $s3 (i32.add (local.get $s3) (i32.const 16)))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $kloop)))
    (block $tdone (loop $tloop
      (br_if $tdone (i32.ge_u (local.get $k) (local.get $kc)))
      (f32.store (local.get $dst) (f32.load (local.get $src)))
      (f32.store offset=4 (local.get $dst) (f32.load (local.get $s1)))
      (f32.store offset=8 (local.get $dst) (f32.load (local.get $s2)))
      (f32.store offset=12 (local.get $dst) (f32.load (local.get $s3)))
      (local.set $dst (i32.add (local.get $dst) (local.get $wb)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (local.set $s1 (i32.add (local.get $s1) (i32.const 4)))
      (local.set $s2 (i32.add (local.get $s2) (i32.const 4)))
      (local.set $s3 (i32.add (local.get $s3) (i32.const 4)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $tloop)))
  )

  ;; dst = n strided vectors (vector t: element k at src + t·ts + k·ks, k < kc) as panels of W (4 or 8) vectors
  ;; interleaved: panel p holds [kc][W] floats, zero-padded past n. A full panel whose W vectors are
  ;; contiguous (ts = 4: row-major B, transposed A) is copied with vector loads; one whose vectors are each
  ;; contiguous (ks = 4: row-major A, transposed B) through 4x4 transposes; the rest element by element.
  (func $pack (param $src i32) (param $n i32) (param $kc i32) (param $ts i32) (param $ks i32)
    (param $dst i32) (param $W i32)
    (local $p0 i32) (local $w i32) (local $t i32) (local $k i32) (local $s i32) (local $d i32) (local $wb i32)
    (local.set $wb (i32.shl (local.get $W) (i32.const 2)))
    (local.set $p0 (i32.const 0))
    (block $pdone (loop $ploop
      (br_if $pdone (i32.ge_u (local.get $p0) (local.get $n)))
      (local.set $w (call $min (local.get $W) (i32.sub (local.get $n) (local.get $p0))))
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $p0) (local.get $ts))))
      (if (i32.and (i32.eq (local.get $w) (local.get $W)) (i32.eq (local.get $ts) (i32.const 4)))
        (then
          (local.set $d (local.get $dst))
          (local.set $k (local.get $kc))
          (block $kdone (loop $kloop
            (br_if $kdone (i32.eqz (local.get $k)))
            (v128.store (local.get $d) (v128.load (local.get $s)))
            (if (i32.eq (local.get $W) (i32.const 8))
              (then (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))))
            (local.set $s (i32.add (local.get $s) (local.get $ks)))
            (local.set $d (i32.add (local.get $d) (local.get $wb)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $kloop))))
        (else (if (i32.and (i32.eq (local.get $w) (local.get $W)) (i32.eq (local.get $ks) (i32.const 4)))
        (then
          ;; full panel, each vector contiguous (row-major A, transposed B): 4x4 transposes
          (call $pack4T (local.get $s) (local.get $ts) (local.get $kc) (local.get $dst) (local.get $wb))
          (if (i32.eq (local.get $W) (i32.const 8))
            (then (call $pack4T (i32.add (local.get $s) (i32.shl (local.get $ts) (i32.const 2))) (local.get $ts)
              (local.get $kc) (i32.add (local.get $dst) (i32.const 16)) (local.get $wb)))))
        (else
          (local.set $t (i32.const 0))
          (block $tdone (loop $tloop
            (br_if $tdone (i32.ge_u (local.get $t) (local.get $W)))
            (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 2))))
            (local.set $k (local.get $kc))
            (if (i32.lt_u (local.get $t) (local.get $w))
              (then
                (block $kdone2 (loop $kloop2
                  (br_if $kdone2 (i32.eqz (local.get $k)))
                  (f32.store (local.get $d) (f32.load (local.get $s)))
                  (local.set $s (i32.add (local.get $s) (local.get $ks)))
                  (local.set $d (i32.add (local.get $d) (local.get $wb)))
                  (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                  (br $kloop2))))
              (else
                (block $kdone3 (loop $kloop3
                  (br_if $kdone3 (i32.eqz (local.get $k)))
                  (f32.store (local.get $d) (f32.const 0))
                  (local.set $d (i32.add (local.get $d) (local.get $wb)))
                  (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                  (br $kloop3)))))
            (local.set $s (i32.add (local.get $src)
              (i32.mul (i32.add (local.get $p0) (i32.add (local.get $t) (i32.const 1))) (local.get $ts))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $tloop)))))))
      (local.set $dst (i32.add (local.get $dst) (i32.mul (local.get $kc) (local.get $wb))))
      (local.set $p0 (i32.add (local.get $p0) (local.get $W)))
      (br $ploop)))
  )

  ;; C (4x8 at c, row stride ldc) = [C if mode 2 | bias row (8 at $bias) if mode 1 | 0] + packed A strip
  ;; ([kc][4] at ap) · packed B panel ([kc][8] at bp). The register tile: per k two vector loads of B,
  ;; 4 splatted scalars of A, 8 multiply-adds into 8 accumulators.
  ;; (6x8 and 5x8 tiles, 12 and 10 accumulators, measured 35-45% slower: V8 spills on x64's 16 xmm registers.)
  (func $micro (param $kc i32) (param $ap i32) (param $bp i32) (param $c i32) (param $ldc i32)
    (param $mode i32) (param $bias i32)
    (local $p i32) (local $b0 v128) (local $b1 v128) (local $av v128) (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $p (local.get $c))
    (if (i32.eq (local.get $mode) (i32.const 2))
      (then
        (local.set $c00 (v128.load (local.get $p))) (local.set $c01 (v128.load offset=16 (local.get $p)))
        (local.set $p (i32.add (local.get $p) (local.get $ldc)))
        (local.set $c10 (v128.load (local.get $p))) (local.set $c11 (v128.load offset=16 (local.get $p)))
        (local.set $p (i32.add (local.get $p) (local.get $ldc)))
        (local.set $c20 (v128.load (local.get $p))) (local.set $c21 (v128.load offset=16 (local.get $p)))
        (local.set $p (i32.add (local.get $p) (local.get $ldc)))
        (local.set $c30 (v128.load (local.get $p))) (local.set $c31 (v128.load offset=16 (local.get $p))))
      (else
        (if (i32.eq (local.get $mode) (i32.const 1))
          (then
            (local.set $b0 (v128.load (local.get $bias)))
            (local.set $b1 (v128.load offset=16 (local.get $bias))))
          (else
            (local.set $b0 (v128.const i32x4 0 0 0 0))
            (local.set $b1 (v128.const i32x4 0 0 0 0))))
        (local.set $c00 (local.get $b0)) (local.set $c01 (local.get $b1))
        (local.set $c10 (local.get $b0)) (local.set $c11 (local.get $b1))
        (local.set $c20 (local.get $b0)) (local.set $c21 (local.get $b1))
        (local.set $c30 (local.get $b0)) (local.set $c31 (local.get $b1))))
    (loop $kloop
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      (local.set $av (v128.load32_splat offset=0 (local.get $ap)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=4 (local.get $ap)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=8 (local.get $ap)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $av (v128.load32_splat offset=12 (local.get $ap)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
      (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
      (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
      (local.set $kc (i32.sub (local.get $kc) (i32.const 1)))
      (br_if $kloop (local.get $kc)))
    (local.set $p (local.get $c))
    (v128.store (local.get $p) (local.get $c00)) (v128.store offset=16 (local.get $p) (local.get $c01))
    (local.set $p (i32.add (local.get $p) (local.get $ldc)))
    (v128.store (local.get $p) (local.get $c10)) (v128.store offset=16 (local.get $p) (local.get $c11))
    (local.set $p (i32.add (local.get $p) (local.get $ldc)))
    (v128.store (local.get $p) (local.get $c20)) (v128.store offset=16 (local.get $p) (local.get $c21))
    (local.set $p (i32.add (local.get $p) (local.get $ldc)))
    (v128.store (local.get $p) (local.get $c30)) (v128.store offset=16 (local.get $p) (local.get $c31))
  )

  ;; A partial tile (mr < 4 rows or nr < 8 columns valid): through the scratch tile, so nothing past the
  ;; valid part of C (or of the bias) is read or written.
  (func $edge (param $kc i32) (param $ap i32) (param $bp i32) (param $c i32) (param $ldc i32)
    (param $mode i32) (param $bias i32) (param $mr i32) (param $nr i32)
    (local $r i32) (local $t i32) (local $v f32) (local $tp i32)
    (local.set $r (i32.const 0))
    (block $rdone (loop $rloop
      (br_if $rdone (i32.ge_u (local.get $r) (i32.const 4)))
      (local.set $t (i32.const 0))
      (block $tdone (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $t) (i32.const 8)))
        (local.set $v (f32.const 0))
        (if (i32.and (i32.lt_u (local.get $r) (local.get $mr)) (i32.lt_u (local.get $t) (local.get $nr)))
          (then
            (if (i32.eq (local.get $mode) (i32.const 2))
              (then (local.set $v (f32.load (i32.add (i32.add (local.get $c) (i32.mul (local.get $r) (local.get $ldc)))
                (i32.shl (local.get $t) (i32.const 2))))))
              (else (if (i32.eq (local.get $mode) (i32.const 1))
                (then (local.set $v (f32.load (i32.add (local.get $bias) (i32.shl (local.get $t) (i32.const 2)))))))))))
        (f32.store (i32.add (global.get $tile) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $t)) (i32.const 2)))
          (local.get $v))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tloop)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rloop)))
    (call $micro (local.get $kc) (local.get $ap) (local.get $bp) (global.get $tile) (i32.const 32) (i32.const 2) (i32.const 0))
    (local.set $r (i32.const 0))
    (block $rdone2 (loop $rloop2
      (br_if $rdone2 (i32.ge_u (local.get $r) (local.get $mr)))
      (local.set $t (i32.const 0))
      (block $tdone2 (loop $tloop2
        (br_if $tdone2 (i32.ge_u (local.get $t) (local.get $nr)))
        (f32.store (i32.add (i32.add (local.get $c) (i32.mul (local.get $r) (local.get $ldc))) (i32.shl (local.get $t) (i32.const 2)))
          (f32.load (i32.add (global.get $tile) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $t)) (i32.const 2)))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tloop2)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rloop2)))
  )

  ;; Blocked product (one matrix of the batch). Loops: columns in blocks of 1024 (jc), depth in blocks of
  ;; 256 (pc: B's block packed into [1024/8][kc][8] panels, ~L3), rows in blocks of 128 (ic: A's block packed
  ;; into [128/4][kc][4] strips, 128 KB, L2), then B panels (jr, 8 KB, L1) × A strips (ir) × the
  ;; 4x8 micro-tile. The first depth block starts from the bias (or zero), later ones add to C.
  (func $gemm (param $M i32) (param $N i32) (param $K i32)
    (param $a i32) (param $ras i32) (param $cas i32) (param $b i32) (param $rbs i32) (param $cbs i32)
    (param $c i32) (param $ldc i32) (param $bias i32)
    (local $jc i32) (local $nc i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $jr i32) (local $nr i32) (local $ir i32) (local $mr i32) (local $mode i32)
    (local $bp i32) (local $cp i32) (local $biasp i32)
    (local.set $jc (i32.const 0))
    (block $jcdone (loop $jcloop
      (br_if $jcdone (i32.ge_u (local.get $jc) (local.get $N)))
      (local.set $nc (call $min (i32.const 1024) (i32.sub (local.get $N) (local.get $jc))))
      (local.set $pc (i32.const 0))
      (block $pcdone (loop $pcloop
        (br_if $pcdone (i32.ge_u (local.get $pc) (local.get $K)))
        (local.set $kc (call $min (i32.const 256) (i32.sub (local.get $K) (local.get $pc))))
        (local.set $mode (select (i32.const 2) (select (i32.const 1) (i32.const 0) (local.get $bias)) (local.get $pc)))
        (call $pack
          (i32.add (local.get $b) (i32.add (i32.mul (local.get $pc) (local.get $rbs)) (i32.mul (local.get $jc) (local.get $cbs))))
          (local.get $nc) (local.get $kc) (local.get $cbs) (local.get $rbs) (global.get $packB) (i32.const 8))
        (local.set $ic (i32.const 0))
        (block $icdone (loop $icloop
          (br_if $icdone (i32.ge_u (local.get $ic) (local.get $M)))
          (local.set $mc (call $min (i32.const 128) (i32.sub (local.get $M) (local.get $ic))))
          (call $pack
            (i32.add (local.get $a) (i32.add (i32.mul (local.get $ic) (local.get $ras)) (i32.mul (local.get $pc) (local.get $cas))))
            (local.get $mc) (local.get $kc) (local.get $ras) (local.get $cas) (global.get $packA) (i32.const 4))
          (local.set $jr (i32.const 0))
          (block $jrdone (loop $jrloop
            (br_if $jrdone (i32.ge_u (local.get $jr) (local.get $nc)))
            (local.set $nr (call $min (i32.const 8) (i32.sub (local.get $nc) (local.get $jr))))
            (local.set $bp (i32.add (global.get $packB) (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2))))
            (local.set $biasp (i32.add (local.get $bias) (i32.shl (i32.add (local.get $jc) (local.get $jr)) (i32.const 2))))
            (local.set $ir (i32.const 0))
            (block $irdone (loop $irloop
              (br_if $irdone (i32.ge_u (local.get $ir) (local.get $mc)))
              (local.set $mr (call $min (i32.const 4) (i32.sub (local.get $mc) (local.get $ir))))
              (local.set $cp (i32.add (local.get $c)
                (i32.add (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc))
                  (i32.shl (i32.add (local.get $jc) (local.get $jr)) (i32.const 2)))))
              (if (i32.and (i32.eq (local.get $mr) (i32.const 4)) (i32.eq (local.get $nr) (i32.const 8)))
                (then
                  (call $micro (local.get $kc)
                    (i32.add (global.get $packA) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
                    (local.get $bp) (local.get $cp) (local.get $ldc) (local.get $mode) (local.get $biasp)))
                (else
                  (call $edge (local.get $kc)
                    (i32.add (global.get $packA) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
                    (local.get $bp) (local.get $cp) (local.get $ldc) (local.get $mode) (local.get $biasp)
                    (local.get $mr) (local.get $nr))))
              (local.set $ir (i32.add (local.get $ir) (i32.const 4)))
              (br $irloop)))
            (local.set $jr (i32.add (local.get $jr) (i32.const 8)))
            (br $jrloop)))
          (local.set $ic (i32.add (local.get $ic) (local.get $mc)))
          (br $icloop)))
        (local.set $pc (i32.add (local.get $pc) (local.get $kc)))
        (br $pcloop)))
      (local.set $jc (i32.add (local.get $jc) (local.get $nc)))
      (br $jcloop)))
  )

  ;; y (N at y, contiguous) = x · B (+ bias) for one row x (element k at x + k·xs) and B with contiguous rows
  ;; (cbs = 4): y += x[k]·B[k] row by row, over blocks of 4096 columns of y (16 KB, in L1), so for N <= 4096
  ;; B is read once, in order, as one stream (measured: twice as fast as several rows of B at once).
  (func $gemvRows (param $N i32) (param $K i32) (param $x i32) (param $xs i32) (param $b i32) (param $rbs i32)
    (param $y i32) (param $bias i32)
    (local $j0 i32) (local $nb i32) (local $k i32) (local $j i32) (local $yp i32) (local $xp i32)
    (local $n16 i32) (local $n4 i32) (local $row i32) (local $bp i32) (local $xv v128) (local $xf f32)
    (local.set $j0 (i32.const 0))
    (block $jdone (loop $jloop
      (br_if $jdone (i32.ge_u (local.get $j0) (local.get $N)))
      (local.set $nb (call $min (i32.const 4096) (i32.sub (local.get $N) (local.get $j0))))
      (local.set $n16 (i32.and (local.get $nb) (i32.const -16)))
      (local.set $n4 (i32.and (local.get $nb) (i32.const -4)))
      (local.set $yp (i32.add (local.get $y) (i32.shl (local.get $j0) (i32.const 2))))
      ;; y block = bias or 0
      (if (local.get $bias)
        (then (memory.copy (local.get $yp) (i32.add (local.get $bias) (i32.shl (local.get $j0) (i32.const 2)))
          (i32.shl (local.get $nb) (i32.const 2))))
        (else (memory.fill (local.get $yp) (i32.const 0) (i32.shl (local.get $nb) (i32.const 2)))))
      (local.set $xp (local.get $x))
      (local.set $row (i32.add (local.get $b) (i32.shl (local.get $j0) (i32.const 2))))
      (local.set $k (local.get $K))
      (block $kdone (loop $kloop
        (br_if $kdone (i32.eqz (local.get $k)))
        (local.set $xf (f32.load (local.get $xp)))
        (local.set $xv (f32x4.splat (local.get $xf)))
        (local.set $bp (local.get $row))
        (local.set $j (i32.const 0))
        (block $vdone (loop $vloop
          (br_if $vdone (i32.ge_u (local.get $j) (local.get $n16)))
          (v128.store offset=0 (local.get $yp)
            (f32x4.add (v128.load offset=0 (local.get $yp)) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $bp)))))
          (v128.store offset=16 (local.get $yp)
            (f32x4.add (v128.load offset=16 (local.get $yp)) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $bp)))))
          (v128.store offset=32 (local.get $yp)
            (f32x4.add (v128.load offset=32 (local.get $yp)) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $bp)))))
          (v128.store offset=48 (local.get $yp)
            (f32x4.add (v128.load offset=48 (local.get $yp)) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $bp)))))
          (local.set $yp (i32.add (local.get $yp) (i32.const 64)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 64)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br $vloop)))
        (block $v4done (loop $v4loop
          (br_if $v4done (i32.ge_u (local.get $j) (local.get $n4)))
          (v128.store (local.get $yp)
            (f32x4.add (v128.load (local.get $yp)) (f32x4.mul (local.get $xv) (v128.load (local.get $bp)))))
          (local.set $yp (i32.add (local.get $yp) (i32.const 16)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $v4loop)))
        (block $sdone (loop $sloop
          (br_if $sdone (i32.ge_u (local.get $j) (local.get $nb)))
          (f32.store (local.get $yp)
            (f32.add (f32.load (local.get $yp)) (f32.mul (local.get $xf) (f32.load (local.get $bp)))))
          (local.set $yp (i32.add (local.get $yp) (i32.const 4)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $sloop)))
        (local.set $yp (i32.sub (local.get $yp) (i32.shl (local.get $nb) (i32.const 2))))
        (local.set $row (i32.add (local.get $row) (local.get $rbs)))
        (local.set $xp (i32.add (local.get $xp) (local.get $xs)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $kloop)))
      (local.set $j0 (i32.add (local.get $j0) (local.get $nb)))
      (br $jloop)))
  )

  ;; y (N at y, contiguous) = x · B (+ bias) for one contiguous row x and B given as its transpose (rbs = 4:
  ;; column j of B is the contiguous row b + j·cbs, e.g. a tied vocabulary table or the keys): one dot product
  ;; per column, read as one sequential stream (B in order when its rows are packed), four partial sums
  ;; (16 floats a step) and a horizontal sum at the end.
  (func $gemvCols (param $N i32) (param $K i32) (param $x i32) (param $b i32) (param $cbs i32)
    (param $y i32) (param $bias i32)
    (local $j i32) (local $k i32) (local $k16 i32) (local $k4 i32) (local $p i32) (local $xp i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $f f32)
    (local.set $k16 (i32.and (local.get $K) (i32.const -16)))
    (local.set $k4 (i32.and (local.get $K) (i32.const -4)))
    (local.set $j (i32.const 0))
    (block $jdone (loop $jloop
      (br_if $jdone (i32.ge_u (local.get $j) (local.get $N)))
      (local.set $p (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $cbs))))
      (local.set $xp (local.get $x))
      (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
      (local.set $s2 (v128.const i32x4 0 0 0 0)) (local.set $s3 (v128.const i32x4 0 0 0 0))
      (local.set $k (i32.const 0))
      (block $kdone (loop $kloop
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $k16)))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load offset=0 (local.get $xp)) (v128.load offset=0 (local.get $p)))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (v128.load offset=16 (local.get $xp)) (v128.load offset=16 (local.get $p)))))
        (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (v128.load offset=32 (local.get $xp)) (v128.load offset=32 (local.get $p)))))
        (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (v128.load offset=48 (local.get $xp)) (v128.load offset=48 (local.get $p)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $kloop)))
      (block $k4done (loop $k4loop
        (br_if $k4done (i32.ge_u (local.get $k) (local.get $k4)))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load (local.get $xp)) (v128.load (local.get $p)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 16)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $k4loop)))
      (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))
      (local.set $f (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
        (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))
      (block $tdone (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $f (f32.add (local.get $f) (f32.mul (f32.load (local.get $xp)) (f32.load (local.get $p)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tloop)))
      (if (local.get $bias)
        (then (local.set $f (f32.add (local.get $f) (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))))))
      (f32.store (i32.add (local.get $y) (i32.shl (local.get $j) (i32.const 2))) (local.get $f))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $jloop)))
  )

  ;; C[i] = A[i]·B[i] (+ bias, N floats at $bias, on every row; 0 = none) for i < batch; sa, sb, sc: the
  ;; operands' batch strides (bytes; 0 repeats one operand). K >= 1, M, N >= 1.
  (func (export "matmul")
    (param $batch i32) (param $M i32) (param $N i32) (param $K i32)
    (param $a i32) (param $sa i32) (param $ras i32) (param $cas i32)
    (param $b i32) (param $sb i32) (param $rbs i32) (param $cbs i32)
    (param $c i32) (param $sc i32) (param $ldc i32) (param $bias i32)
    (local $i i32)
    (block $bdone (loop $bloop
      (br_if $bdone (i32.eqz (local.get $batch)))
      (if (i32.ge_u (local.get $M) (i32.const 4))
        (then
          (call $gemm (local.get $M) (local.get $N) (local.get $K) (local.get $a) (local.get $ras) (local.get $cas)
            (local.get $b) (local.get $rbs) (local.get $cbs) (local.get $c) (local.get $ldc) (local.get $bias)))
        (else
          (if (i32.eq (local.get $cbs) (i32.const 4))
            (then
              (local.set $i (i32.const 0))
              (block $idone (loop $iloop
                (br_if $idone (i32.ge_u (local.get $i) (local.get $M)))
                (call $gemvRows (local.get $N) (local.get $K)
                  (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ras))) (local.get $cas)
                  (local.get $b) (local.get $rbs)
                  (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (local.get $bias))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $iloop))))
            (else
              (if (i32.and (i32.eq (local.get $rbs) (i32.const 4)) (i32.eq (local.get $cas) (i32.const 4)))
                (then
                  (local.set $i (i32.const 0))
                  (block $idone2 (loop $iloop2
                    (br_if $idone2 (i32.ge_u (local.get $i) (local.get $M)))
                    (call $gemvCols (local.get $N) (local.get $K)
                      (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ras)))
                      (local.get $b) (local.get $cbs)
                      (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (local.get $bias))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $iloop2))))
                (else
                  (call $gemm (local.get $M) (local.get $N) (local.get $K) (local.get $a) (local.get $ras) (local.get $cas)
                    (local.get $b) (local.get $rbs) (local.get $cbs) (local.get $c) (local.get $ldc) (local.get $bias))))))))
      (local.set $a (i32.add (local.get $a) (local.get $sa)))
      (local.set $b (i32.add (local.get $b) (local.get $sb)))
      (local.set $c (i32.add (local.get $c) (local.get $sc)))
      (local.set $batch (i32.sub (local.get $batch) (i32.const 1)))
      (br $bloop)))
  )

  ;; dst (C, R) = src (R, C)ᵀ, both row-major: 16x16 blocks so reads and writes both stay in few lines.
  (func (export "transpose") (param $src i32) (param $R i32) (param $C i32) (param $dst i32)
    (local $i0 i32) (local $j0 i32) (local $i1 i32) (local $j1 i32) (local $i i32) (local $j i32)
    (local.set $i0 (i32.const 0))
    (block $idone (loop $iloop
      (br_if $idone (i32.ge_u (local.get $i0) (local.get $R)))
      (local.set $i1 (call $min (i32.add (local.get $i0) (i32.const 16)) (local.get $R)))
      (local.set $j0 (i32.const 0))
      (block $jdone (loop $jloop
        (br_if $jdone (i32.ge_u (local.get $j0) (local.get $C)))
        (local.set $j1 (call $min (i32.add (local.get $j0) (i32.const 16)) (local.get $C)))
        (local.set $j (local.get $j0))
        (block $jjdone (loop $jjloop
          (br_if $jjdone (i32.ge_u (local.get $j) (local.get $j1)))
          (local.set $i (local.get $i0))
          (block $iidone (loop $iiloop
            (br_if $iidone (i32.ge_u (local.get $i) (local.get $i1)))
            (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $R)) (local.get $i)) (i32.const 2)))
              (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $C)) (local.get $j)) (i32.const 2)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iiloop)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jjloop)))
        (local.set $j0 (local.get $j1))
        (br $jloop)))
      (local.set $i0 (local.get $i1))
      (br $iloop)))
  )

  ;; ---- element-wise and row kernels ------------------------------------------------------------------

  (func $splat (param $x f32) (result v128) (f32x4.splat (local.get $x)))

  ;; e^x, four lanes (Cephes expf: a degree-6 polynomial after x = n·ln2 + r; relative error ~1e-7). Below
  ;; -87.3 (where e^x leaves float32's normal range) the result is 0, so e^-∞ = 0; x is clamped at 88 above
  ;; (the callers need e^x <= 1, and saturation).
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $live v128)
    (local.set $live (f32x4.ge (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654)))
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
      (v128.const f32x4 88 88 88 88)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.442695 1.442695 1.442695 1.442695))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x)
      (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
      (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; · 2^n: n + 127 in the exponent bits
    (v128.and (local.get $live) (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23)))))

  ;; Φ(x) = ½(1 + erf(x/√2)), four lanes. erf: the rational approximation on [-4, 4] of Eigen and XLA
  ;; (erf(±4) = ±1 in float32), max error ~1e-7.
  (func $normalCdf4 (param $x v128) (result v128)
    (local $z v128) (local $z2 v128) (local $p v128) (local $q v128)
    (local.set $z (f32x4.min (f32x4.max (f32x4.mul (local.get $x) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678))
      (v128.const f32x4 -4 -4 -4 -4)) (v128.const f32x4 4 4 4 4)))
    (local.set $z2 (f32x4.mul (local.get $z) (local.get $z)))
    (local.set $p (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (v128.const f32x4 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08 2.77068142495902e-08)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (v128.const f32x4 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06 -2.10102402082508e-06)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (v128.const f32x4 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05 -5.69250639462346e-05)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (v128.const f32x4 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04 -7.34990630326855e-04)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (v128.const f32x4 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03 -2.95459980854025e-03)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z2)) (v128.const f32x4 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02 -1.60960333262415e-02)))
    (local.set $q (v128.const f32x4 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05 -1.45660718464996e-05))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (v128.const f32x4 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04 -2.13374055278905e-04)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (v128.const f32x4 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03 -1.68282697438203e-03)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (v128.const f32x4 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03 -7.37332916720468e-03)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $z2)) (v128.const f32x4 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02 -1.42647390514189e-02)))
    (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5)
      (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.div (f32x4.mul (local.get $z) (local.get $p)) (local.get $q)))))

  ;; σ(x·(2c + 2ca·x²)) = ½(1 + tanh(c·(x + a·x³))), c = √(2/π), a = 0.044715: the gate of GELU's tanh form.
  (func $tanhGate4 (param $x v128) (result v128)
    (local $u v128)
    (local.set $u (f32x4.mul (local.get $x) (f32x4.add (v128.const f32x4 1.5957691 1.5957691 1.5957691 1.5957691)
      (f32x4.mul (v128.const f32x4 0.07135482 0.07135482 0.07135482 0.07135482) (f32x4.mul (local.get $x) (local.get $x))))))
    (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $u))))))

  ;; The element-wise kernels: op over n floats, y[i] = f(x[i]) or dx[i] = f(x[i], dy[i]). $which picks f:
  ;; 0 GELU (erf), 1 its gradient, 2 GELU (tanh), 3 its gradient. Vectors of 4, then the tail one lane at a time
  ;; through the same vector code.
  (func $gelu4 (param $which i32) (param $x v128) (param $dy v128) (result v128)
    (local $s v128)
    (if (result v128) (i32.eq (local.get $which) (i32.const 0))
      (then (f32x4.mul (local.get $x) (call $normalCdf4 (local.get $x))))
      (else (if (result v128) (i32.eq (local.get $which) (i32.const 1))
        (then
          ;; dy · (Φ(x) + x·φ(x)), φ(x) = e^(−x²/2) / √(2π)
          (f32x4.mul (local.get $dy) (f32x4.add (call $normalCdf4 (local.get $x))
            (f32x4.mul (f32x4.mul (local.get $x) (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228))
              (call $exp4 (f32x4.mul (v128.const f32x4 -0.5 -0.5 -0.5 -0.5) (f32x4.mul (local.get $x) (local.get $x))))))))
        (else (if (result v128) (i32.eq (local.get $which) (i32.const 2))
          (then (f32x4.mul (local.get $x) (call $tanhGate4 (local.get $x))))
          (else
            ;; dy · (s + x·s·(1 − s)·(2c + 6ca·x²)), s the gate
            (local.set $s (call $tanhGate4 (local.get $x)))
            (f32x4.mul (local.get $dy) (f32x4.add (local.get $s)
              (f32x4.mul (f32x4.mul (local.get $x) (f32x4.mul (local.get $s) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $s))))
                (f32x4.add (v128.const f32x4 1.5957691 1.5957691 1.5957691 1.5957691)
                  (f32x4.mul (v128.const f32x4 0.21406445 0.21406445 0.21406445 0.21406445) (f32x4.mul (local.get $x) (local.get $x))))))))))))))

  ;; out[i] = f(x[i], dy[i]) for i < n ($dy unused by the forward forms).
  (func (export "gelu") (param $which i32) (param $x i32) (param $dy i32) (param $out i32) (param $n i32)
    (local $end i32) (local $end4 i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done (loop $vec
      (br_if $done (i32.eq (local.get $x) (local.get $end4)))
      (v128.store (local.get $out) (call $gelu4 (local.get $which) (v128.load (local.get $x)) (v128.load (local.get $dy))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $vec)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.eq (local.get $x) (local.get $end)))
      (f32.store (local.get $out) (f32x4.extract_lane 0 (call $gelu4 (local.get $which)
        (f32x4.splat (f32.load (local.get $x))) (f32x4.splat (f32.load (local.get $dy))))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br $tail)))
  )

  ;; Sum of D floats at $p (D a multiple of 4): four running sums, then across lanes.
  (func $sum4 (param $p v128) (result f32)
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $p)) (f32x4.extract_lane 1 (local.get $p)))
      (f32.add (f32x4.extract_lane 2 (local.get $p)) (f32x4.extract_lane 3 (local.get $p)))))

  ;; LayerNorm over rows of D floats (D a multiple of 4), rows [0, rows) from $x:
  ;;   mean, rstd = 1/√(var + eps); xhat = (x − mean)·rstd; y = xhat·γ + β. Writes y, xhat and rstd (a float a row).
  (func (export "layerNorm") (param $x i32) (param $gamma i32) (param $beta i32) (param $y i32) (param $xhat i32)
    (param $rstd i32) (param $rows i32) (param $D i32) (param $epsBits i32)
    (local $j i32) (local $bytes i32) (local $acc v128) (local $mean v128) (local $r v128) (local $v v128)
    (local $inv f32)
    (local.set $bytes (i32.shl (local.get $D) (i32.const 2)))
    (local.set $inv (f32.div (f32.const 1) (f32.convert_i32_u (local.get $D))))
    (block $done (loop $row
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $x) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l1)))
      (local.set $mean (f32x4.splat (f32.mul (call $sum4 (local.get $acc)) (local.get $inv))))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $v (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $mean)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l2)))
      (local.set $r (f32x4.splat (f32.div (f32.const 1) (f32.sqrt
        (f32.add (f32.mul (call $sum4 (local.get $acc)) (local.get $inv)) (f32.reinterpret_i32 (local.get $epsBits)))))))
      (f32.store (local.get $rstd) (f32x4.extract_lane 0 (local.get $r)))
      (local.set $j (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $v (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $mean)) (local.get $r)))
        (v128.store (i32.add (local.get $xhat) (local.get $j)) (local.get $v))
        (v128.store (i32.add (local.get $y) (local.get $j)) (f32x4.add
          (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $gamma) (local.get $j))))
          (v128.load (i32.add (local.get $beta) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l3)))
      (local.set $x (i32.add (local.get $x) (local.get $bytes)))
      (local.set $y (i32.add (local.get $y) (local.get $bytes)))
      (local.set $xhat (i32.add (local.get $xhat) (local.get $bytes)))
      (local.set $rstd (i32.add (local.get $rstd) (i32.const 4)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row)))
  )

  ;; LayerNorm's input gradient over rows of D floats (D a multiple of 4), with g = dy·γ:
  ;;   dx = rstd · (g − mean(g) − xhat · mean(g · xhat)).
  (func (export "layerNormGrad") (param $dy i32) (param $xhat i32) (param $gamma i32) (param $rstd i32)
    (param $dx i32) (param $rows i32) (param $D i32)
    (local $j i32) (local $bytes i32) (local $sg v128) (local $sgx v128) (local $g v128) (local $h v128)
    (local $mg v128) (local $mgx v128) (local $r v128) (local $inv f32)
    (local.set $bytes (i32.shl (local.get $D) (i32.const 2)))
    (local.set $inv (f32.div (f32.const 1) (f32.convert_i32_u (local.get $D))))
    (block $done (loop $row
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $sg (v128.const i32x4 0 0 0 0))
      (local.set $sgx (v128.const i32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $g (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $gamma) (local.get $j)))))
        (local.set $sg (f32x4.add (local.get $sg) (local.get $g)))
        (local.set $sgx (f32x4.add (local.get $sgx) (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $xhat) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l1)))
      (local.set $mg (f32x4.splat (f32.mul (call $sum4 (local.get $sg)) (local.get $inv))))
      (local.set $mgx (f32x4.splat (f32.mul (call $sum4 (local.get $sgx)) (local.get $inv))))
      (local.set $r (v128.load32_splat (local.get $rstd)))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $g (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $gamma) (local.get $j)))))
        (local.set $h (v128.load (i32.add (local.get $xhat) (local.get $j))))
        (v128.store (i32.add (local.get $dx) (local.get $j)) (f32x4.mul (local.get $r)
          (f32x4.sub (f32x4.sub (local.get $g) (local.get $mg)) (f32x4.mul (local.get $h) (local.get $mgx)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l2)))
      (local.set $dy (i32.add (local.get $dy) (local.get $bytes)))
      (local.set $xhat (i32.add (local.get $xhat) (local.get $bytes)))
      (local.set $dx (i32.add (local.get $dx) (local.get $bytes)))
      (local.set $rstd (i32.add (local.get $rstd) (i32.const 4)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row)))
  )

  ;; Inverted dropout's apply, forward and backward alike: out[i] = keep[i] ? x[i]·scale : 0 for i < n,
  ;; keep one byte an element (TF.js's bool).
  (func (export "dropout") (param $x i32) (param $keep i32) (param $scaleBits i32) (param $out i32) (param $n i32)
    (local $end i32) (local $end4 i32) (local $scale v128)
    (local.set $scale (f32x4.splat (f32.reinterpret_i32 (local.get $scaleBits))))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done (loop $vec
      (br_if $done (i32.eq (local.get $x) (local.get $end4)))
      ;; four mask bytes widened to four all-ones / all-zeros lanes
      (v128.store (local.get $out) (v128.and (f32x4.mul (v128.load (local.get $x)) (local.get $scale))
        (v128.not (i32x4.eq (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $keep))))
          (v128.const i32x4 0 0 0 0)))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $keep (i32.add (local.get $keep) (i32.const 4)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $vec)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.eq (local.get $x) (local.get $end)))
      (f32.store (local.get $out) (select (f32.mul (f32.load (local.get $x)) (f32x4.extract_lane 0 (local.get $scale)))
        (f32.const 0) (i32.load8_u (local.get $keep))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $keep (i32.add (local.get $keep) (i32.const 1)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br $tail)))
  )

  ;; Dropout's keep-mask for elements first .. first + n − 1 (keep points at element first): element i is kept
  ;; when the top 24 bits of pcg(pcg(i ^ key) + key) reach the threshold (rate · 2^24), pcg being PCG's output
  ;; permutation on 32 bits (O'Neill; Jarzynski & Olano 2020), as backend-webgpu's shader has it. Counter-based:
  ;; every element on its own, so any split over threads gives the same mask. (Written out, not called: V8
  ;; does not inline the call, which halved the speed.)
  (func (export "hashKeepMask") (param $key i32) (param $threshold i32) (param $first i32) (param $keep i32)
    (param $n i32)
    (local $i i32) (local $end i32) (local $s i32) (local $w i32) (local $r i32)
    (local.set $i (local.get $first))
    (local.set $end (i32.add (local.get $first) (local.get $n)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $s (i32.add (i32.mul (i32.xor (local.get $i) (local.get $key)) (i32.const 747796405)) (i32.const -1403630843)))
      (local.set $w (i32.mul
        (i32.xor (i32.shr_u (local.get $s) (i32.add (i32.shr_u (local.get $s) (i32.const 28)) (i32.const 4)))
          (local.get $s))
        (i32.const 277803737)))
      (local.set $r (i32.xor (i32.shr_u (local.get $w) (i32.const 22)) (local.get $w)))
      (local.set $s (i32.add (i32.mul (i32.add (local.get $r) (local.get $key)) (i32.const 747796405)) (i32.const -1403630843)))
      (local.set $w (i32.mul
        (i32.xor (i32.shr_u (local.get $s) (i32.add (i32.shr_u (local.get $s) (i32.const 28)) (i32.const 4)))
          (local.get $s))
        (i32.const 277803737)))
      (local.set $r (i32.xor (i32.shr_u (local.get $w) (i32.const 22)) (local.get $w)))
      (i32.store8 (local.get $keep)
        (i32.ge_u (i32.shr_u (local.get $r) (i32.const 8)) (local.get $threshold)))
      (local.set $keep (i32.add (local.get $keep) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
  )

  ;; Float64 sums of float32 vectors (cross-entropy's and the gradient norm's): two f64x2 accumulators, lanes
  ;; 0-1 of each vector into the first and 2-3 into the second; a scalar tail; one total, rounded to float32.
  (func $addF64 (param $acc0 v128) (param $acc1 v128) (param $v v128) (result v128 v128)
    (f64x2.add (local.get $acc0) (f64x2.promote_low_f32x4 (local.get $v)))
    (f64x2.add (local.get $acc1) (f64x2.promote_low_f32x4
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))

  (func $totalF64 (param $acc0 v128) (param $acc1 v128) (param $tail f64) (result f32)
    (f32.demote_f64 (f64.add
      (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0)))
      (f64.add (f64.add (f64x2.extract_lane 0 (local.get $acc1)) (f64x2.extract_lane 1 (local.get $acc1)))
        (local.get $tail)))))

  ;; Rows of V floats (any V): max[r] = the row's largest value, sum[r] = Σ e^(x − max) (summed in float64).
  ;; Log-sum-exp is max + log(sum), the log taken by the caller (wasm has none). Cross-entropy's forward.
  (func (export "rowMaxSumExp") (param $x i32) (param $rows i32) (param $V i32) (param $max i32) (param $sum i32)
    (local $p i32) (local $end i32) (local $end4 i32) (local $mv v128) (local $mf f32)
    (local $acc0 v128) (local $acc1 v128) (local $tail f64)
    (block $done (loop $row
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $V) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $V) (i32.const -4)) (i32.const 2))))
      ;; the row's max
      (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $p (local.get $x))
      (block $m4done (loop $m4
        (br_if $m4done (i32.eq (local.get $p) (local.get $end4)))
        (local.set $mv (f32x4.max (local.get $mv) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $m4)))
      (local.set $mf (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
        (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
      (block $m1done (loop $m1
        (br_if $m1done (i32.eq (local.get $p) (local.get $end)))
        (local.set $mf (f32.max (local.get $mf) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $m1)))
      (local.set $mv (f32x4.splat (local.get $mf)))
      ;; Σ e^(x − max)
      (local.set $acc0 (v128.const i32x4 0 0 0 0))
      (local.set $acc1 (v128.const i32x4 0 0 0 0))
      (local.set $tail (f64.const 0))
      (local.set $p (local.get $x))
      (block $s4done (loop $s4
        (br_if $s4done (i32.eq (local.get $p) (local.get $end4)))
        (call $addF64 (local.get $acc0) (local.get $acc1)
          (call $exp4 (f32x4.sub (v128.load (local.get $p)) (local.get $mv))))
        (local.set $acc1)
        (local.set $acc0)
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $s4)))
      (block $s1done (loop $s1
        (br_if $s1done (i32.eq (local.get $p) (local.get $end)))
        (local.set $tail (f64.add (local.get $tail) (f64.promote_f32 (f32x4.extract_lane 0
          (call $exp4 (f32x4.sub (v128.load32_splat (local.get $p)) (local.get $mv)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $s1)))
      (f32.store (local.get $max) (local.get $mf))
      (f32.store (local.get $sum) (call $totalF64 (local.get $acc0) (local.get $acc1) (local.get $tail)))
      (local.set $x (local.get $end))
      (local.set $max (i32.add (local.get $max) (i32.const 4)))
      (local.set $sum (i32.add (local.get $sum) (i32.const 4)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row)))
  )

  ;; out[r, j] = e^(x[r, j] − shift[r]) over rows of V floats: cross-entropy's gradient, scaled softmax.
  (func (export "expShift") (param $x i32) (param $shift i32) (param $rows i32) (param $V i32) (param $out i32)
    (local $end i32) (local $end4 i32) (local $sv v128)
    (block $done (loop $row
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $V) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $V) (i32.const -4)) (i32.const 2))))
      (local.set $sv (v128.load32_splat (local.get $shift)))
      (block $vdone (loop $vec
        (br_if $vdone (i32.eq (local.get $x) (local.get $end4)))
        (v128.store (local.get $out) (call $exp4 (f32x4.sub (v128.load (local.get $x)) (local.get $sv))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $vec)))
      (block $tdone (loop $t
        (br_if $tdone (i32.eq (local.get $x) (local.get $end)))
        (f32.store (local.get $out) (f32x4.extract_lane 0
          (call $exp4 (f32x4.sub (v128.load32_splat (local.get $x)) (local.get $sv)))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $t)))
      (local.set $shift (i32.add (local.get $shift) (i32.const 4)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $row)))
  )

  ;; Σ x² over each chunk of $chunk floats of the n at $x (the last chunk may be shorter), one float a chunk
  ;; to $out: squares in float32 (as x·x), summed in float64 (two f64x2 accumulators and a scalar tail).
  (func (export "sumSquares") (param $x i32) (param $n i32) (param $chunk i32) (param $out i32)
    (local $len i32) (local $end i32) (local $end4 i32) (local $acc0 v128) (local $acc1 v128)
    (local $tail f64) (local $f f32)
    (block $done (loop $chunks
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $len (call $min (local.get $chunk) (local.get $n)))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $len) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
      (local.set $acc0 (v128.const i32x4 0 0 0 0))
      (local.set $acc1 (v128.const i32x4 0 0 0 0))
      (local.set $tail (f64.const 0))
      (block $vdone (loop $vec
        (br_if $vdone (i32.eq (local.get $x) (local.get $end4)))
        (call $addF64 (local.get $acc0) (local.get $acc1)
          (f32x4.mul (v128.load (local.get $x)) (v128.load (local.get $x))))
        (local.set $acc1)
        (local.set $acc0)
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $vec)))
      (block $tdone (loop $t
        (br_if $tdone (i32.eq (local.get $x) (local.get $end)))
        (local.set $f (f32.load (local.get $x)))
        (local.set $tail (f64.add (local.get $tail) (f64.promote_f32 (f32.mul (local.get $f) (local.get $f)))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $t)))
      (f32.store (local.get $out) (call $totalF64 (local.get $acc0) (local.get $acc1) (local.get $tail)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (local.get $len)))
      (br $chunks)))
  )

  ;; ---- AdamW ------------------------------------------------------------------------------------------

  ;; The update's constants, splatted once a call (each thread's instance has its own).
  (global $b1 (mut v128) (v128.const i32x4 0 0 0 0))
  (global $b2 (mut v128) (v128.const i32x4 0 0 0 0))
  (global $eps (mut v128) (v128.const i32x4 0 0 0 0))
  (global $stepSize (mut v128) (v128.const i32x4 0 0 0 0))
  (global $sqrtBc2 (mut v128) (v128.const i32x4 0 0 0 0))
  (global $gradScale (mut v128) (v128.const i32x4 0 0 0 0))
  (global $decay (mut v128) (v128.const i32x4 0 0 0 0))

  ;; Four parameters: g' = g·scale; m' = b1·m + (1 − b1)·g'; v' = b2·v + (1 − b2)·g'²;
  ;; p' = p·decay − stepSize·m' / (√v' / √bc2 + eps). Returns m', v', p'.
  (func $adam4 (param $p v128) (param $g v128) (param $m v128) (param $v v128) (result v128 v128 v128)
    (local.set $g (f32x4.mul (local.get $g) (global.get $gradScale)))
    (local.set $m (f32x4.add (f32x4.mul (global.get $b1) (local.get $m))
      (f32x4.mul (f32x4.sub (v128.const f32x4 1 1 1 1) (global.get $b1)) (local.get $g))))
    (local.set $v (f32x4.add (f32x4.mul (global.get $b2) (local.get $v))
      (f32x4.mul (f32x4.sub (v128.const f32x4 1 1 1 1) (global.get $b2)) (f32x4.mul (local.get $g) (local.get $g)))))
    (local.get $m)
    (local.get $v)
    (f32x4.sub (f32x4.mul (local.get $p) (global.get $decay))
      (f32x4.div (f32x4.mul (global.get $stepSize) (local.get $m))
        (f32x4.add (f32x4.div (f32x4.sqrt (local.get $v)) (global.get $sqrtBc2)) (global.get $eps)))))

  ;; AdamW over n parameters: p, g read; m, v updated in place; the new parameters to out. Constants as f32
  ;; bits (the pool passes i32s). Vectors of 4, then the tail one lane at a time through the same code.
  (func (export "adamw") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $out i32) (param $n i32)
    (param $b1 i32) (param $b2 i32) (param $eps i32) (param $stepSize i32) (param $sqrtBc2 i32) (param $gradScale i32)
    (param $decay i32)
    (local $end i32) (local $end4 i32) (local $pv v128) (local $mv v128) (local $vv v128)
    (global.set $b1 (i32x4.splat (local.get $b1)))
    (global.set $b2 (i32x4.splat (local.get $b2)))
    (global.set $eps (i32x4.splat (local.get $eps)))
    (global.set $stepSize (i32x4.splat (local.get $stepSize)))
    (global.set $sqrtBc2 (i32x4.splat (local.get $sqrtBc2)))
    (global.set $gradScale (i32x4.splat (local.get $gradScale)))
    (global.set $decay (i32x4.splat (local.get $decay)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done (loop $vec
      (br_if $done (i32.eq (local.get $p) (local.get $end4)))
      (call $adam4 (v128.load (local.get $p)) (v128.load (local.get $g)) (v128.load (local.get $m)) (v128.load (local.get $v)))
      (local.set $pv)
      (local.set $vv)
      (local.set $mv)
      (v128.store (local.get $m) (local.get $mv))
      (v128.store (local.get $v) (local.get $vv))
      (v128.store (local.get $out) (local.get $pv))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $v (i32.add (local.get $v) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $vec)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.eq (local.get $p) (local.get $end)))
      (call $adam4 (v128.load32_splat (local.get $p)) (v128.load32_splat (local.get $g))
        (v128.load32_splat (local.get $m)) (v128.load32_splat (local.get $v)))
      (local.set $pv)
      (local.set $vv)
      (local.set $mv)
      (f32.store (local.get $m) (f32x4.extract_lane 0 (local.get $mv)))
      (f32.store (local.get $v) (f32x4.extract_lane 0 (local.get $vv)))
      (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $pv)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $g (i32.add (local.get $g) (i32.const 4)))
      (local.set $m (i32.add (local.get $m) (i32.const 4)))
      (local.set $v (i32.add (local.get $v) (i32.const 4)))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (br $tail)))
  )
)
