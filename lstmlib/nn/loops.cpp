// The loops over time of lstmlib/nn/loops.py, compiled: the same tensor operations on
// the same operands in the same order, so the results are the same, bit for bit.
//
// Why C++ at all: at batch 1 or small hidden sizes a step is a few tiny kernels, and
// each costs more to call from Python (1-2 us) than to run. Called from here, they
// skip Python, and autograd too (the guard below): these loops run inside the
// forward and the backward of lstmlib.nn.bptt's autograd Functions, where no graph is
// recorded, on tensors those Functions have just allocated.
//
// Read loops.py first: its docstrings say what each argument holds, with shapes.
// loops_build.py compiles this file once per machine and loads it as torch.ops.lstmlib.

#include <ATen/ATen.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <torch/library.h>

using at::Tensor;

namespace {

// Step t's columns [from, from + width) of x: (L, N, W), as one as_strided view (select
// then narrow dispatch three operators, and views cost as much as the step's math).
Tensor block(const Tensor& x, int64_t t, int64_t from, int64_t width) {
  const int64_t offset = x.storage_offset() + t * x.stride(0) + from * x.stride(2);
  return x.as_strided({x.size(1), width}, {x.stride(1), x.stride(2)}, offset);
}

void lstm_forward(Tensor a, const Tensor& w_hh_t, const Tensor& h0, const Tensor& c0,
                  Tensor h, Tensor c, Tensor tanh_c) {
  at::AutoDispatchBelowADInplaceOrView no_autograd;
  const int64_t L = a.size(0), H = h0.size(-1);
  Tensor h_prev = h0, c_prev = c0;
  for (int64_t t = 0; t < L; ++t) {
    Tensor a_t = block(a, t, 0, 4 * H), g_t = block(a, t, 3 * H, H);  // i, f, o, g
    Tensor c_t = block(c, t, 0, H), tanh_c_t = block(tanh_c, t, 0, H), h_t = block(h, t, 0, H);
    a_t.addmm_(h_prev, w_hh_t);
    block(a, t, 0, 3 * H).sigmoid_();
    g_t.tanh_();
    at::mul_out(c_t, block(a, t, H, H), c_prev);
    c_t.addcmul_(block(a, t, 0, H), g_t);
    at::tanh_out(tanh_c_t, c_t);
    at::mul_out(h_t, block(a, t, 2 * H, H), tanh_c_t);
    h_prev = h_t;
    c_prev = c_t;
  }
}

std::tuple<Tensor, Tensor> lstm_backward(const Tensor& k_dc, const Tensor& k_cell,
                                         const Tensor& k_out, const Tensor& f,
                                         const Tensor& w_hh, const Tensor& dh_all,
                                         const c10::optional<Tensor>& dc_all, Tensor da) {
  at::AutoDispatchBelowADInplaceOrView no_autograd;
  const int64_t L = da.size(0), N = da.size(1), H = da.size(3);
  Tensor da_rows = da.view({L, N, 4 * H});
  Tensor dh = dh_all.select(0, L - 1);
  Tensor dc = dc_all ? dc_all->select(0, L - 1) : at::zeros_like(dh);
  for (int64_t t = L - 1; t >= 0; --t) {
    Tensor dc_total = at::addcmul(dc, dh, k_dc.select(0, t));
    Tensor da_t = da.select(0, t), da_ifg_t = da_t.narrow(1, 0, 3), da_o_t = da_t.select(1, 3);
    at::mul_out(da_ifg_t, k_cell.select(0, t), dc_total.unsqueeze(1));
    at::mul_out(da_o_t, k_out.select(0, t), dh);
    const Tensor& da_rows_t = da_rows.select(0, t);
    const Tensor f_t = f.select(0, t);
    if (t == 0) {
      dh = at::mm(da_rows_t, w_hh);
      dc = dc_total * f_t;
    } else {
      dh = at::addmm(dh_all.select(0, t - 1), da_rows_t, w_hh);
      dc = dc_all ? at::addcmul(dc_all->select(0, t - 1), dc_total, f_t) : dc_total * f_t;
    }
  }
  return {dh, dc};
}

void gru_forward(Tensor ax, Tensor ah, const Tensor& w_hh_t, const c10::optional<Tensor>& b_hh,
                 const Tensor& h0, Tensor h) {
  at::AutoDispatchBelowADInplaceOrView no_autograd;
  const int64_t L = ax.size(0), H = h0.size(-1);
  Tensor h_prev = h0;
  for (int64_t t = 0; t < L; ++t) {
    Tensor ax_t = ax.select(0, t), ah_t = ah.select(0, t), h_t = h.select(0, t);
    if (b_hh) {
      at::addmm_out(ah_t, *b_hh, h_prev, w_hh_t);
    } else {
      at::mm_out(ah_t, h_prev, w_hh_t);
    }
    ax_t.narrow(1, 0, 2 * H).add_(ah_t.narrow(1, 0, 2 * H)).sigmoid_();
    Tensor n_t = ax_t.narrow(1, 2 * H, H);
    n_t.addcmul_(ax_t.narrow(1, 0, H), ah_t.narrow(1, 2 * H, H)).tanh_();
    at::lerp_out(h_t, n_t, h_prev, ax_t.narrow(1, H, H));
    h_prev = h_t;
  }
}

Tensor gru_backward(const Tensor& k_ah, const Tensor& z, const Tensor& w_hh,
                    const Tensor& dh_all, Tensor dah, Tensor dh) {
  at::AutoDispatchBelowADInplaceOrView no_autograd;
  const int64_t L = dah.size(0), N = dah.size(1), H = dah.size(3);
  Tensor dah_rows = dah.view({L, N, 3 * H});
  dh.select(0, L - 1).copy_(dh_all.select(0, L - 1));
  Tensor dh0;
  for (int64_t t = L - 1; t >= 0; --t) {
    const Tensor dh_t = dh.select(0, t), z_t = z.select(0, t);
    Tensor dah_t = dah.select(0, t);
    at::mul_out(dah_t, k_ah.select(0, t), dh_t.unsqueeze(1));
    if (t == 0) {
      dh0 = at::addmm(dh_t * z_t, dah_rows.select(0, t), w_hh);
    } else {
      Tensor direct = at::addcmul(dh_all.select(0, t - 1), dh_t, z_t), dh_prev = dh.select(0, t - 1);
      at::addmm_out(dh_prev, direct, dah_rows.select(0, t), w_hh);
    }
  }
  return dh0;
}

void rnn_forward(Tensor h, const Tensor& w_hh_t, const Tensor& h0, bool relu) {
  at::AutoDispatchBelowADInplaceOrView no_autograd;
  Tensor h_prev = h0;
  for (int64_t t = 0; t < h.size(0); ++t) {
    Tensor h_t = h.select(0, t);
    h_t.addmm_(h_prev, w_hh_t);
    if (relu) {
      h_t.relu_();
    } else {
      h_t.tanh_();
    }
    h_prev = h_t;
  }
}

Tensor rnn_backward(const Tensor& k, const Tensor& w_hh, const Tensor& dh_all, Tensor da) {
  at::AutoDispatchBelowADInplaceOrView no_autograd;
  const int64_t L = da.size(0);
  Tensor dh = dh_all.select(0, L - 1);
  for (int64_t t = L - 1; t >= 0; --t) {
    Tensor da_t = da.select(0, t);
    at::mul_out(da_t, dh, k.select(0, t));
    dh = t == 0 ? at::mm(da_t, w_hh) : at::addmm(dh_all.select(0, t - 1), da_t, w_hh);
  }
  return dh;
}

}  // namespace

TORCH_LIBRARY(lstmlib, m) {
  m.def("lstm_forward(Tensor(a!) a, Tensor w_hh_t, Tensor h0, Tensor c0, Tensor(b!) h, "
        "Tensor(c!) c, Tensor(d!) tanh_c) -> ()");
  m.def("lstm_backward(Tensor k_dc, Tensor k_cell, Tensor k_out, Tensor f, Tensor w_hh, "
        "Tensor dh_all, Tensor? dc_all, Tensor(a!) da) -> (Tensor, Tensor)");
  m.def("gru_forward(Tensor(a!) ax, Tensor(b!) ah, Tensor w_hh_t, Tensor? b_hh, Tensor h0, "
        "Tensor(c!) h) -> ()");
  m.def("gru_backward(Tensor k_ah, Tensor z, Tensor w_hh, Tensor dh_all, Tensor(a!) dah, "
        "Tensor(b!) dh) -> Tensor");
  m.def("rnn_forward(Tensor(a!) h, Tensor w_hh_t, Tensor h0, bool relu) -> ()");
  m.def("rnn_backward(Tensor k, Tensor w_hh, Tensor dh_all, Tensor(a!) da) -> Tensor");
}

// One kernel for every device: the loops only call ATen operators, which dispatch on.
TORCH_LIBRARY_IMPL(lstmlib, CompositeExplicitAutograd, m) {
  m.impl("lstm_forward", &lstm_forward);
  m.impl("lstm_backward", &lstm_backward);
  m.impl("gru_forward", &gru_forward);
  m.impl("gru_backward", &gru_backward);
  m.impl("rnn_forward", &rnn_forward);
  m.impl("rnn_backward", &rnn_backward);
}
