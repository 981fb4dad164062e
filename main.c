#include <stdio.h>
extern double T_[8];
int ev_main(void);
int main(void){ int r=ev_main(); printf("qkvo gemm %.3f | attn core %.3f | mlp gemm %.3f | silu %.3f | wload %.3f | rmsnorm %.3f | head %.3f\n",T_[0],T_[1],T_[2],T_[3],T_[4],T_[5],T_[6]); return r;}
